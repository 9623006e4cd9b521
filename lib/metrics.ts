/** Counters and gauges for `GET /metrics`, rendered in the Prometheus text exposition format. */

type Labels = Readonly<Record<string, string>>;

interface Series {
  readonly help: string;
  readonly type: "counter" | "gauge";
  readonly values: Map<string, { labels: Labels; value: number }>;
}

/** A counter handle: `inc()` adds to one labelled series. */
export interface Counter {
  inc(labels?: Labels, by?: number): void;
  get(labels?: Labels): number;
}

/** A gauge handle: `set()` replaces one labelled series' value. */
export interface Gauge {
  set(value: number, labels?: Labels): void;
  get(labels?: Labels): number;
}

const labelKey = (labels: Labels): string =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");

const escapeLabel = (value: string): string => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

/** One registry per appliance, passed to components; no global default registry. */
export class MetricsRegistry {
  private readonly series = new Map<string, Series>();

  /** Registers (or returns the existing) counter `name`. */
  counter(name: string, help: string): Counter {
    const s = this.define(name, help, "counter");
    return {
      inc: (labels = {}, by = 1) => {
        const key = labelKey(labels);
        const cur = s.values.get(key);
        if (cur) cur.value += by;
        else s.values.set(key, { labels, value: by });
      },
      get: (labels = {}) => s.values.get(labelKey(labels))?.value ?? 0,
    };
  }

  /** Registers (or returns the existing) gauge `name`. */
  gauge(name: string, help: string): Gauge {
    const s = this.define(name, help, "gauge");
    return {
      set: (value, labels = {}) => {
        s.values.set(labelKey(labels), { labels, value });
      },
      get: (labels = {}) => s.values.get(labelKey(labels))?.value ?? 0,
    };
  }

  /** The sum of every labelled series of `name` (0 when it is not registered), for summaries. */
  sum(name: string): number {
    let total = 0;
    for (const { value } of this.series.get(name)?.values.values() ?? []) total += value;
    return total;
  }

  /** Renders every series in the Prometheus text format (version 0.0.4). */
  render(): string {
    const out: string[] = [];
    for (const [name, s] of [...this.series].sort(([a], [b]) => a.localeCompare(b))) {
      out.push(`# HELP ${name} ${s.help}`, `# TYPE ${name} ${s.type}`);
      for (const { labels, value } of s.values.values()) {
        const names = Object.keys(labels).sort();
        const rendered = names.length ? `{${names.map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`).join(",")}}` : "";
        out.push(`${name}${rendered} ${value}`);
      }
    }
    return out.join("\n") + "\n";
  }

  private define(name: string, help: string, type: Series["type"]): Series {
    const existing = this.series.get(name);
    if (existing) {
      if (existing.type !== type) throw new Error(`metric ${name} is a ${existing.type}, not a ${type}`);
      return existing;
    }
    const s: Series = { help, type, values: new Map() };
    this.series.set(name, s);
    return s;
  }
}
