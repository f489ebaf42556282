// The AUP window (issue 15): one document at a time, one checkbox per statement, a read-aloud
// button for each, the typed details the document asks for, and "I agree" enabled only when all
// of it is done. Everything shown from a document or typed by the user goes into the page as
// text, never markup. The window decides nothing: the service records the signature with the
// console user it finds and refuses a text that is not the one in force.
import type { AupPending, AupPendingDocument } from '../../shared/schemas/ipc.ts';
import type { AupBridge } from './bridge.ts';

function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const element = document.getElementById(id);
  if (!(element instanceof type)) {
    throw new Error(`aup.html has no #${id} of the expected kind`);
  }
  return element;
}

const main = byId('main', HTMLElement);
const title = byId('title', HTMLHeadingElement);
const progress = byId('progress', HTMLParagraphElement);
const introduction = byId('introduction', HTMLParagraphElement);
const errorBox = byId('error', HTMLDivElement);
const form = byId('form', HTMLFormElement);
const list = byId('statements', HTMLOListElement);
const fullName = byId('full-name', HTMLInputElement);
const tutorGroupField = byId('tutor-group-field', HTMLParagraphElement);
const tutorGroup = byId('tutor-group', HTMLInputElement);
const parentCarerField = byId('parent-carer-field', HTMLParagraphElement);
const parentCarer = byId('parent-carer', HTMLInputElement);
const dateText = byId('date', HTMLSpanElement);
const missing = byId('missing', HTMLParagraphElement);
const accept = byId('accept', HTMLButtonElement);
const decline = byId('decline', HTMLButtonElement);
const done = byId('done', HTMLDivElement);

const speech: SpeechSynthesis | null = 'speechSynthesis' in window ? window.speechSynthesis : null;

let current: AupPendingDocument | null = null;
let total = 0;
let signedCount = 0;
let busy = false;

/** Reads a text aloud in British English, stopping whatever was being read. */
function readAloud(text: string): void {
  if (speech === null) {
    return;
  }
  speech.cancel();
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.lang = 'en-GB';
  utterance.rate = 0.9;
  speech.speak(utterance);
}

function readAloudButton(text: string, label: string): HTMLButtonElement {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'read-aloud';
  button.textContent = '🔊 Listen';
  button.setAttribute('aria-label', label);
  button.hidden = speech === null;
  button.addEventListener('click', () => {
    readAloud(text);
  });
  return button;
}

function checkboxes(): HTMLInputElement[] {
  return [...list.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')];
}

/** What is still to do, in plain words; empty when the form is complete. */
function stillToDo(): string[] {
  if (current === null) {
    return [];
  }
  const todo: string[] = [];
  const unticked = checkboxes().filter((box) => !box.checked).length;
  if (unticked > 0) {
    todo.push(unticked === 1 ? 'tick 1 more line' : `tick ${unticked} more lines`);
  }
  if (fullName.value.trim() === '') {
    todo.push('type your full name');
  }
  if (current.askTutorGroup && tutorGroup.value.trim() === '') {
    todo.push('type your class or tutor group');
  }
  if (current.askParentCarer && parentCarer.value.trim() === '') {
    todo.push('type the name of your parent or carer');
  }
  return todo;
}

function update(): void {
  const todo = stillToDo();
  accept.disabled = busy || current === null || todo.length > 0;
  missing.textContent =
    todo.length === 0 ? 'All done. You can now agree.' : `Still to do: ${todo.join(', ')}.`;
}

function showError(message: string | null): void {
  errorBox.hidden = message === null;
  errorBox.textContent = message ?? '';
}

function show(document_: AupPendingDocument): void {
  current = document_;
  progress.textContent =
    total > 1 ? `Agreement ${String(signedCount + 1)} of ${String(total)}` : '';
  title.textContent = document_.title;
  introduction.replaceChildren(
    document.createTextNode(document_.introduction),
    document.createTextNode(' '),
    readAloudButton(`${document_.title}. ${document_.introduction}`, 'Listen to the introduction'),
  );
  list.replaceChildren(
    ...document_.statements.map((statement, index) => {
      const item = document.createElement('li');
      item.className = 'statement';
      const box = document.createElement('input');
      box.type = 'checkbox';
      box.id = `statement-${String(index)}`;
      box.addEventListener('change', update);
      const label = document.createElement('label');
      label.htmlFor = box.id;
      label.textContent = statement;
      item.append(
        box,
        label,
        readAloudButton(statement, `Listen to line ${String(index + 1)}: ${statement}`),
      );
      return item;
    }),
  );
  tutorGroupField.hidden = !document_.askTutorGroup;
  parentCarerField.hidden = !document_.askParentCarer;
  tutorGroup.value = '';
  parentCarer.value = '';
  dateText.textContent = new Date().toLocaleDateString('en-GB', {
    day: 'numeric',
    month: 'long',
    year: 'numeric',
  });
  form.hidden = false;
  done.hidden = true;
  update();
}

function showPending(pending: AupPending): void {
  const next = pending.documents[0];
  if (next === undefined) {
    current = null;
    form.hidden = true;
    progress.textContent = '';
    introduction.replaceChildren();
    title.textContent = 'Thank you';
    done.hidden = false;
    done.textContent =
      fullName.value.trim() === ''
        ? 'There is nothing to agree to. You can use the computer.'
        : `Thank you, ${fullName.value.trim()}. You can now use the computer.`;
    return;
  }
  if (next.id !== current?.id || next.textSha256 !== current.textSha256) {
    show(next);
  }
}

async function run(action: () => Promise<void>): Promise<void> {
  busy = true;
  update();
  decline.disabled = true;
  try {
    showError(null);
    await action();
  } catch (error) {
    showError(error instanceof Error ? error.message : String(error));
  } finally {
    busy = false;
    decline.disabled = false;
    update();
  }
}

function start(bridge: AupBridge): void {
  form.addEventListener('input', update);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const shown = current;
    if (shown === null || stillToDo().length > 0 || busy) {
      return;
    }
    void run(async () => {
      const answer = await bridge.sign({
        documentId: shown.id,
        textSha256: shown.textSha256,
        acknowledged: checkboxes().map((_, index) => index),
        fullName: fullName.value,
        tutorGroup: shown.askTutorGroup ? tutorGroup.value : null,
        parentCarer: shown.askParentCarer ? parentCarer.value : null,
      });
      signedCount++;
      showPending(answer);
      title.focus();
    });
  });
  decline.addEventListener('click', () => {
    const shown = current;
    if (shown === null || busy) {
      return;
    }
    void run(async () => {
      const answer = await bridge.decline({ documentId: shown.id, textSha256: shown.textSha256 });
      const action = answer.declined?.action ?? 'record-only';
      const what =
        action === 'sign-out'
          ? 'You will now be signed out.'
          : action === 'lock'
            ? 'This computer will now be locked.'
            : 'Your choice has been saved. Please talk to your teacher.';
      done.hidden = false;
      done.textContent = `You chose not to agree. ${what}`;
      showPending(answer);
    });
  });
  void run(async () => {
    const pending = await bridge.pending();
    total = pending.documents.length;
    showPending(pending);
    main.setAttribute('aria-busy', 'false');
  });
}

title.tabIndex = -1;
const bridge = window.hallpassAup;
if (bridge === undefined) {
  showError('This window must be opened by Hallpass.');
  main.setAttribute('aria-busy', 'false');
} else {
  start(bridge);
}
