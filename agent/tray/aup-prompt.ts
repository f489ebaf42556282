// When the tray shows the AUP window (ui/aup/) and what closing it means, in a plain module the
// Electron main process wires to a BrowserWindow. The window opens when the service says the
// console user has documents to sign: on every new connection (the tray starts at login) and on
// an `aup:required` push. The service decides who signs what; the tray only asks and forwards.
//
// Closing the window unsigned counts as declining the document it showed (issue 15: "what
// declining (or closing) does, per role"): otherwise closing would be a way round the policy.
// The service then runs the role's action (sign out, lock, or record only); a window in which
// the user already declined is not declined twice.
import type { AupPending, IpcResponse } from '../../shared/schemas/ipc.ts';
import type { AupAnswer, AupDecline, AupSignature } from '../../shared/tray-bridge.ts';
import type { RequestBody } from './service-client.ts';

/** What the prompt needs from the service client. */
export interface AupRequester {
  answer(body: RequestBody): Promise<Extract<IpcResponse, { ok: true }>>;
}

/** What one prompt is built from. */
export interface AupPromptOptions {
  service: AupRequester;
  /** Opens the AUP window (or brings it to the front when it is open). */
  open(): void;
  /** Something went wrong that only a log should hear (the service is away, a refusal). */
  problem(what: string): void;
  /** The AUP rules' role for the console user, whenever the service says it (its wording). */
  role?(role: 'staff' | 'pupil'): void;
}

/** The tray's side of the AUP: opening the window, its three requests, and its closing. */
export class AupPrompt {
  readonly #options: AupPromptOptions;
  /** The window is open now. */
  #open = false;
  /** The document the window last showed as first to sign; declined if the window closes. */
  #showing: AupDecline | null = null;
  /** The user declined in this window: closing it declines nothing more. */
  #declinedHere = false;

  constructor(options: AupPromptOptions) {
    this.#options = options;
  }

  /** A new connection to the service: asks what is due and opens the window if anything is. */
  async connected(): Promise<void> {
    try {
      const { aup } = await this.#options.service.answer({ channel: 'aup:pending' });
      if (aup !== undefined) {
        this.required(aup);
      }
    } catch (error) {
      this.#options.problem(`could not ask which AUP documents are due: ${message(error)}`);
    }
  }

  /** The service pushed `aup:required` (or answered aup:pending): open when anything is due. */
  required(aup: AupPending): void {
    if (aup.role !== undefined && aup.role !== null) {
      this.#options.role?.(aup.role);
    }
    if (aup.documents.length === 0) {
      return;
    }
    this.#remember(aup);
    if (!this.#open) {
      this.#open = true;
      this.#declinedHere = false;
      this.#options.open();
    }
  }

  /** The window's aup:pending. */
  pending(): Promise<AupAnswer> {
    return this.#forward({ channel: 'aup:pending' });
  }

  /** The window's aup:sign. */
  sign(signature: AupSignature): Promise<AupAnswer> {
    return this.#forward({ channel: 'aup:sign', ...signature });
  }

  /** The window's aup:decline. */
  async decline(document: AupDecline): Promise<AupAnswer> {
    const answer = await this.#forward({ channel: 'aup:decline', ...document });
    if (answer.ok) {
      this.#declinedHere = true;
    }
    return answer;
  }

  /** The window closed, by the user or the OS. Unsigned and not declined: declined now. */
  async closed(): Promise<void> {
    this.#open = false;
    const showing = this.#showing;
    this.#showing = null;
    if (showing === null || this.#declinedHere) {
      return;
    }
    try {
      // Only if it is still due: a window closed after the last signature declines nothing.
      const { aup } = await this.#options.service.answer({ channel: 'aup:pending' });
      const still = aup?.documents.find(
        (document) =>
          document.id === showing.documentId && document.textSha256 === showing.textSha256,
      );
      if (still !== undefined) {
        await this.#options.service.answer({ channel: 'aup:decline', ...showing });
      }
    } catch (error) {
      // The service is away: the window opens again on the next connection.
      this.#options.problem(`could not record the closed AUP window: ${message(error)}`);
    }
  }

  async #forward(body: RequestBody): Promise<AupAnswer> {
    try {
      const { aup } = await this.#options.service.answer(body);
      if (aup === undefined) {
        return { ok: false, error: 'The Hallpass service did not answer about the AUP.' };
      }
      this.#remember(aup);
      return { ok: true, aup };
    } catch (error) {
      return { ok: false, error: message(error) };
    }
  }

  #remember(aup: AupPending): void {
    const first = aup.documents[0];
    this.#showing =
      first === undefined ? null : { documentId: first.id, textSha256: first.textSha256 };
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
