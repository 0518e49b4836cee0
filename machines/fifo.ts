/**
 * First-in first-out list of items keyed by id, with O(1) push, shift,
 * lookup and removal from anywhere.
 *
 * Queues hold up to hundreds of thousands of pending jobs. An array
 * would make removing a killed job O(n), and copying it on every event
 * (as immutable machine context would) O(n) per enqueue; this list is
 * mutated in place and never copied.
 */
interface Node<T> {
  item: T;
  prev: Node<T> | null;
  next: Node<T> | null;
}

export class Fifo<T extends { id: string }> {
  #nodes = new Map<string, Node<T>>();
  #head: Node<T> | null = null;
  #tail: Node<T> | null = null;

  /** Number of items held. */
  get size(): number {
    return this.#nodes.size;
  }

  has(id: string): boolean {
    return this.#nodes.has(id);
  }

  get(id: string): T | undefined {
    return this.#nodes.get(id)?.item;
  }

  /** Appends an item; throws if its id is already held. */
  push(item: T): void {
    if (this.#nodes.has(item.id)) {
      throw new Error(`id already queued: ${item.id}`);
    }
    const node: Node<T> = { item, prev: this.#tail, next: null };
    if (this.#tail) this.#tail.next = node;
    else this.#head = node;
    this.#tail = node;
    this.#nodes.set(item.id, node);
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    const head = this.#head;
    if (!head) return undefined;
    this.#unlink(head);
    return head.item;
  }

  /** Removes the item with this id from wherever it is. */
  remove(id: string): T | undefined {
    const node = this.#nodes.get(id);
    if (!node) return undefined;
    this.#unlink(node);
    return node.item;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let node = this.#head; node; node = node.next) yield node.item;
  }

  /** Items after the one with this id, oldest first. */
  *after(id: string): IterableIterator<T> {
    for (let node = this.#nodes.get(id)?.next; node; node = node.next) {
      yield node.item;
    }
  }

  /**
   * 1-based place of an item, or 0 when absent. Walks from the head
   * with no allocation: fast, but O(place).
   */
  position(id: string): number {
    let place = 1;
    for (let node = this.#head; node; node = node.next, place++) {
      if (node.item.id === id) return place;
    }
    return 0;
  }

  #unlink(node: Node<T>): void {
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = node.next = null;
    this.#nodes.delete(node.item.id);
  }
}
