/** Config problems in our words: zod issues as `path: message` text, and how many a result lists. */
import { YAMLParseError } from "yaml";
import type { z } from "zod";

/** The raw value at a zod issue's path inside a section (undefined when any step is missing). */
export function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const step of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[step];
  }
  return at;
}

/** What a zod type name reads as in a problem ("must be a string"). */
const EXPECTED_WORDS: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
};

/** How a YAML value reads in a problem: its kind and a short rendering. */
function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value) ?? String(value);
  return `${typeof value === "string" ? "the string" : `the ${typeof value}`} ${text.length > 40 ? `${text.slice(0, 40)}...` : text}`;
}

/** A zod issue in our words; wrong type ("must be a string, got the number 7") and absent ("is required") differ. */
export function describeIssue(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === "unrecognized_keys") return `unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.join(", ")}`;
  if (issue.code === "invalid_type") {
    if (value === undefined) return "is required";
    return `must be ${EXPECTED_WORDS[issue.expected] ?? issue.expected}, got ${describeValue(value)}`;
  }
  return issue.message;
}

/** Most problems one result lists; a machine-made file can have thousands, and the first ones say enough. */
export const MAX_LISTED_PROBLEMS = 50;

/** Keeps the first MAX_LISTED_PROBLEMS and says how many more there were. */
export function capProblems<R extends { ok: true } | { ok: false; problems: string[] }>(result: R): R {
  if (result.ok || result.problems.length <= MAX_LISTED_PROBLEMS) return result;
  const more = result.problems.length - MAX_LISTED_PROBLEMS;
  return { ok: false, problems: [...result.problems.slice(0, MAX_LISTED_PROBLEMS), `(and ${more} more problem${more > 1 ? "s" : ""})`] } as R;
}

/** One problem line for anything the YAML library threw: its words once, then the line with a caret under the spot. */
export function yamlProblem(err: unknown, text: string): string {
  if (err instanceof YAMLParseError) {
    const at = err.linePos?.[0];
    // yaml's message repeats the position ("... at line 3, column 1:") and then its own excerpt: keep the words once.
    const words = err.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    if (!at) return `(yaml): ${words}`;
    const source = text.split("\n")[at.line - 1] ?? "";
    const gutter = String(at.line).length;
    return `(yaml) line ${at.line} column ${at.col}: ${words}\n    ${at.line} | ${source}\n    ${" ".repeat(gutter)} | ${" ".repeat(Math.max(at.col - 1, 0))}^`;
  }
  // The yaml library throws ReferenceError for unresolved or excessive aliases, and may throw others.
  return `(yaml): ${err instanceof Error ? err.message.split("\n")[0] : String(err)}`;
}
