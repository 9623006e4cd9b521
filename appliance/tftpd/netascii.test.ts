import { describe, expect, it } from "vitest";
import { toNetascii } from "./netascii.ts";

describe("toNetascii", () => {
  const cases = {
    "no line ends: unchanged": ["abc", "abc"],
    "LF becomes CR LF": ["a\nb\n", "a\r\nb\r\n"],
    "bare CR becomes CR NUL": ["a\rb", "a\r\u0000b"],
    "CR LF becomes CR NUL CR LF": ["a\r\n", "a\r\u0000\r\n"],
    "empty": ["", ""],
  } as const;
  it.each(Object.entries(cases))("%s", (_name, [input, output]) => {
    expect(toNetascii(Buffer.from(input, "latin1")).toString("latin1")).toBe(output);
  });
});
