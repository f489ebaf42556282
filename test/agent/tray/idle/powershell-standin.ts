// Stands in for *PowerShell the program* running windows-idle.ps1, which cannot run here: a real
// child process that speaks the same line protocol on its stdin and stdout, so the code under
// test (LineChild and windowsIdleDesktop, the TypeScript client) talks to a real process through
// real pipes, with real deaths, hangs and floods. It is not windows-idle.ps1 and proves nothing
// about that script's Win32 calls: its answers are the constructed lines in
// test/fixtures/windows/idle-lock/ with the request's id put in.
//
//   node powershell-standin.ts serve <state.json> <lock.json> [<state after lock.json>]
//   node powershell-standin.ts die-after <n>     answers n requests, then exits 3 with a message
//   node powershell-standin.ts hang              reads requests and never answers
//   node powershell-standin.ts noise <state.json>  BOM, warnings and wrong ids before each answer
//   node powershell-standin.ts flood             one endless line
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const [mode = '', ...args] = process.argv.slice(2);
const line = (path: string | undefined): Record<string, unknown> =>
  JSON.parse(readFileSync(path ?? '', 'utf8')) as Record<string, unknown>;
const answer = (reply: Record<string, unknown>, id: number) => {
  process.stdout.write(`${JSON.stringify({ ...reply, id })}\n`);
};

if (mode === 'flood') {
  process.stdout.write('x'.repeat(200_000));
}

let state = mode === 'serve' || mode === 'noise' ? line(args[0]) : {};
let answered = 0;
let first = true;
createInterface({ input: process.stdin }).on('line', (request) => {
  const match = /^(\d+) (state|lock)$/.exec(request);
  const id = Number(match?.[1] ?? 0);
  if (mode === 'serve') {
    if (match?.[2] === 'lock') {
      answer(line(args[1]), id);
      if (args[2] !== undefined) {
        state = line(args[2]);
      }
    } else {
      answer(state, id);
    }
  } else if (mode === 'die-after') {
    if (answered >= Number(args[0])) {
      process.stderr.write('Add-Type : Cannot add type. Compilation errors occurred.\n');
      process.exit(3);
    }
    answered += 1;
    answer({ id, quns: 5, qunsResult: 0, level: 1, flags: 1, windows7: false, error: null }, id);
  } else if (mode === 'noise') {
    process.stdout.write(first ? '\uFEFFWARNING: a profile said hello\n' : '\n');
    first = false;
    process.stdout.write('not json {\n[1,2]\n');
    answer({ ...state, quns: 2 }, id + 1000);
    answer(state, id);
  }
  // hang: never answers
});
