import type { Span } from "../diagnostics/source.js";

/** Where each JSON path of a spec object was written: its key (if any) and its value. */
export interface PathLocation {
  readonly key?: Span;
  readonly value: Span;
}

/**
 * Maps JSON pointers ("/experts/0/count") to source spans, so checks that run on the spec object can
 * point at text — whether the spec was written as .mdr or as JSON.
 */
export class SourceMap {
  private readonly locations = new Map<string, PathLocation>();

  constructor(private readonly fallback: Span) {}

  set(path: string, location: PathLocation): void {
    this.locations.set(path, location);
  }

  /** The value's span at `path`, or of its nearest written ancestor (defaults have no text of their own). */
  valueSpan(path: string): Span {
    return this.nearest(path)?.value ?? this.fallback;
  }

  /** The key's span at `path` when it has one, else the value's. */
  keySpan(path: string): Span {
    const loc = this.locations.get(path);
    if (loc) return loc.key ?? loc.value;
    return this.valueSpan(path);
  }

  has(path: string): boolean {
    return this.locations.has(path);
  }

  private nearest(path: string): PathLocation | undefined {
    for (let p = path; ; p = parentPath(p)) {
      const loc = this.locations.get(p);
      if (loc) return loc;
      if (p === "") return undefined;
    }
  }
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf("/");
  return i <= 0 ? "" : path.slice(0, i);
}

export function joinPath(path: string, key: string | number): string {
  return `${path}/${String(key).replace(/~/g, "~0").replace(/\//g, "~1")}`;
}
