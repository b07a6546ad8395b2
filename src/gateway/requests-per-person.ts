/**
 * Requests running now per person, across their sessions and sessionless calls. A session holds its
 * calls for as long as the tool runs (a streamed reply for many minutes), each with a connection; without
 * a cap one person, or one leaked token, could hold thousands of them and the gateway's descriptors.
 */
export class RequestsPerPerson {
  private readonly running = new Map<string, number>();

  constructor(readonly max: number) {}

  /** Whether `owner` may start no further request now. */
  full(owner: string): boolean {
    return (this.running.get(owner) ?? 0) >= this.max;
  }

  /** Counts one request of `owner` if within the cap; false (nothing counted) past it. */
  take(owner: string): boolean {
    const running = this.running.get(owner) ?? 0;
    if (running >= this.max) return false;
    this.running.set(owner, running + 1);
    return true;
  }

  /** Gives back what `take(owner)` counted. */
  release(owner: string): void {
    const running = this.running.get(owner)! - 1;
    if (running === 0) this.running.delete(owner);
    else this.running.set(owner, running);
  }

  /** The sentence a refused request gets. */
  refusal(): string {
    return `You have ${this.max} requests running, the most one person may (--requests-per-person); wait for some to finish or cancel them, then retry.`;
  }
}
