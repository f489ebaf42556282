// Holding a device's network to the trust's own services until the console user signs the AUP
// (issue 15, seed 003: "before access to the network is permitted"). Each OS holds it with its
// own firewall; every hold is tied to the service's life, so one can never be left behind:
// Linux by the kernel (an owned nftables table), Windows and macOS by releasing on stop and
// clearing at start whatever a crashed run left (Windows Firewall rules and pf anchors persist).

/** A place the device may still reach while held: an address, with a port or any port. */
export interface HoldTarget {
  /** An IPv4 or IPv6 address (names are resolved before a hold; see resolveHoldTargets). */
  address: string;
  /** TCP/UDP port; null: any port. */
  port: number | null;
}

/** The network hold of one OS. */
export interface NetworkHold {
  /**
   * Holds outbound traffic to `allowed` (plus loopback, DHCP and replies to what is allowed).
   * Replaces a hold in force. Resolves once the OS enforces it; rejects with the reason when it
   * cannot (no firewall command, no permission), leaving nothing held.
   */
  hold(allowed: HoldTarget[]): Promise<void>;
  /** Lifts the hold; does nothing when none is in force. */
  release(): Promise<void>;
  /** Whether a hold is in force now. */
  held(): boolean;
  /**
   * Removes a hold an earlier run of the service left (it crashed while holding). Called at
   * service start. Where the OS ties the hold to the process (Linux) there is never one.
   */
  clearLeftover(): Promise<void>;
}
