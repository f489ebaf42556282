// Files shipped beside the code that reads them (each check's windows.ps1, the DPAPI script, the
// default policy), addressed relative to their module's URL. Unpackaged, that is a file: URL read
// from disk. In the single executable (scripts/build-agent.ts) the bundler gives each module the URL
// `hallpass-asset:///<path from the repository root>`, and the file is an SEA asset under that key
// (Node's "Single executable applications", `sea.getAsset`).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { getAsset, isSea } from 'node:sea';

/** The URL scheme the agent bundle gives its modules (scripts/build-agent.ts). */
export const ASSET_PROTOCOL = 'hallpass-asset:';

/** The text of a file shipped with the agent, wherever the agent runs from. */
export async function readAsset(url: URL): Promise<string> {
  if (url.protocol !== ASSET_PROTOCOL) {
    return readFile(url, 'utf8');
  }
  const key = decodeURIComponent(url.pathname.slice(1));
  if (isSea()) {
    return getAsset(key, 'utf8');
  }
  // The bundle run by a plain `node dist/agent/hallpass.cjs`: the build copies the assets
  // to `assets/` beside it.
  return readFile(join(dirname(process.argv[1] ?? '.'), 'assets', key), 'utf8');
}
