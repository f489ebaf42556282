// The idle warning's countdown. The tray decides; this page only shows the time left, ticking
// once a second between the tray's updates, and announces it to screen readers at a few
// moments rather than every second.
import type { IdleWarningView } from '../../shared/tray-bridge.ts';
import { bridge } from '../tray-common/bridge.ts';
import { byId } from '../tray-common/dom.ts';

const hallpass = bridge();
const ANNOUNCE_AT = new Set([60, 30, 20, 10, 5]);

let deadline: number | null = null;
let timer: number | null = null;
let lastShown: number | null = null;

function show(): void {
  const warning = byId('warning');
  const calm = byId('calm');
  if (deadline === null) {
    warning.hidden = true;
    calm.hidden = false;
    byId('title').textContent = 'Hallpass screen lock';
    byId('announce').textContent = '';
    lastShown = null;
    return;
  }
  warning.hidden = false;
  calm.hidden = true;
  byId('title').textContent = 'This computer is about to lock';
  const seconds = Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
  if (seconds !== lastShown) {
    lastShown = seconds;
    byId('seconds').textContent = String(seconds);
    byId('unit').textContent = seconds === 1 ? 'second' : 'seconds';
    if (ANNOUNCE_AT.has(seconds)) {
      byId('announce').textContent = `This computer will lock in ${seconds} seconds.`;
    }
  }
}

function apply(view: IdleWarningView): void {
  if (timer !== null) {
    window.clearInterval(timer);
    timer = null;
  }
  const wasShowing = deadline !== null;
  deadline = view.msLeft === null ? null : performance.now() + view.msLeft;
  if (deadline !== null) {
    timer = window.setInterval(show, 1000);
  }
  show();
  // A warning that appears takes the focus, so one key press answers it.
  if (!wasShowing && deadline !== null) {
    byId('stay').focus();
  }
  byId('main').removeAttribute('aria-busy');
}

// Pressing the button is input the OS sees: the tray's next idle reading cancels the warning.
byId('stay').addEventListener('click', () => {
  byId('announce').textContent = 'Thank you. The computer will stay unlocked.';
});

hallpass.on('idle:warning', apply);
void hallpass.invoke('idle:get').then(apply, () => {
  apply({ msLeft: null });
});
