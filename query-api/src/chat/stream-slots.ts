/**
 * The event streams one instance holds open, at most `perUser` for each user: a stream holds a
 * socket and a listener for as long as the client stays, so a flood of them from one account
 * would take what every other user needs. Per instance, not shared: a stream lives on one.
 */
export class StreamSlots {
  private readonly open = new Map<string, number>();
  private count = 0;

  constructor(private readonly perUser: number) {}

  /** A slot for the user, or undefined when they hold every one; `release` is safe twice. */
  take(userId: string): { release: () => void } | undefined {
    const held = this.open.get(userId) ?? 0;
    if (held >= this.perUser) return undefined;
    this.open.set(userId, held + 1);
    this.count += 1;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.count -= 1;
        const left = (this.open.get(userId) ?? 1) - 1;
        if (left > 0) this.open.set(userId, left);
        else this.open.delete(userId);
      },
    };
  }

  /** Streams open on this instance, all users together. */
  get total(): number {
    return this.count;
  }
}
