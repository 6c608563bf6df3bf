/** What a run opened (models, data workers, the loss, TensorBoard), closed in reverse order when the run ends. */
export class Closeables {
  private readonly items: (() => void | Promise<void>)[] = [];

  add(close: () => void | Promise<void>): void {
    this.items.push(close);
  }

  /** Closes everything, last opened first. */
  async closeAll(): Promise<void> {
    for (const c of this.items.splice(0).reverse()) await c();
  }
}
