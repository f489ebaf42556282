// The box that shows a secret once (an enrolment token, a webhook's signing secret): Copy puts
// it on the clipboard, or selects it when the browser will not; Hide forgets it and returns focus
// to the button that made it (the page's #create-button unless `returnFocus` names another). The
// page's HTML holds #secret, #secret-value, #copy-secret, #copy-status and #hide-secret.
import { byId } from './dom.ts';

/** Wires the secret box's Copy and Hide buttons; `returnFocus` says where Hide sends focus. */
export function wireSecretBox(
  words: { copied: string; noun: string },
  returnFocus: () => HTMLElement = () => byId('create-button'),
): void {
  byId('copy-secret').addEventListener('click', () => {
    const secret = byId('secret-value').textContent;
    const status = byId('copy-status');
    void navigator.clipboard.writeText(secret).then(
      () => {
        status.textContent = words.copied;
      },
      () => {
        // No clipboard permission: select the secret so that Ctrl+C copies it.
        const range = document.createRange();
        range.selectNodeContents(byId('secret-value'));
        getSelection()?.removeAllRanges();
        getSelection()?.addRange(range);
        status.textContent = `The browser would not copy it: the ${words.noun} is selected, press Ctrl+C.`;
      },
    );
  });
  byId('hide-secret').addEventListener('click', () => {
    byId('secret-value').textContent = '';
    byId('secret').hidden = true;
    returnFocus().focus();
  });
}
