/**
 * Invariant 5: scope strings round-trip through parsing and rendering, and
 * nothing outside the RFC 6749 §3.3 grammar parses.
 *
 * The grammar is restated here as a regular expression, independent of
 * `Scopes.parse`, and every way of reading a scope (`parse`, the `FromString`
 * schema, `fromTokens` on the space-split string) must agree with it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Scopes } from "@warden/core"
import { Arbitraries } from "@warden/testing"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { runs } from "./runs.js"

/** scope = scope-token *( SP scope-token ); scope-token = 1*( %x21 / %x23-5B / %x5D-7E ) */
const grammar = /^[\x21\x23-\x5B\x5D-\x7E]+(?: [\x21\x23-\x5B\x5D-\x7E]+)*$/

const isTokenChar = (char: string) => /^[\x21\x23-\x5B\x5D-\x7E]$/.test(char)

/** Strings near the grammar's edges: its characters, the space (twice as likely), and characters it excludes. */
const nearGrammar = FastCheck.string({
  unit: FastCheck.constantFrom(
    " ",
    " ",
    "a",
    "b",
    "!",
    "#",
    "[",
    "]",
    "~",
    "\"",
    "\\",
    "\t",
    "\n",
    "\u00a0",
    "\u007f",
    "é",
    "\u{1F511}"
  ),
  maxLength: 16
})

/** Any string: valid scope strings, invalid ones, near misses and arbitrary Unicode. */
const anyString = FastCheck.oneof(
  Arbitraries.scopeString,
  Arbitraries.invalidScopeString,
  nearGrammar,
  FastCheck.string({ unit: "binary", maxLength: 24 })
)

const decode = Schema.decodeEither(Scopes.FromString)

describe("invariant: scope strings", () => {
  it.prop(
    "a scope string round-trips: rendering its parse gives it back without repeated tokens, and parses to the same set",
    [Arbitraries.scopeString],
    ([s]) => {
      const parsed = Either.getOrThrow(Scopes.parse(s))
      const rendered = Scopes.render(parsed)
      expect(rendered).toBe([...new Set(s.split(" "))].join(" "))
      expect(Equal.equals(Either.getOrThrow(Scopes.parse(rendered)), parsed)).toBe(true)
      expect(Either.map(decode(s), Scopes.render)).toEqual(Either.right(rendered))
      expect(Schema.encodeSync(Scopes.FromString)(parsed)).toBe(rendered)
    },
    runs()
  )

  it.prop(
    "a set of scope-tokens round-trips through rendering and parsing, order kept",
    [FastCheck.uniqueArray(Arbitraries.scopeToken, { minLength: 1, maxLength: 8 })],
    ([tokens]) => {
      const scopes = Either.getOrThrow(Scopes.fromTokens(tokens))
      const again = Either.getOrThrow(Scopes.parse(Scopes.render(scopes)))
      expect(again.tokens).toEqual(tokens)
      expect(Equal.equals(again, scopes)).toBe(true)
    },
    runs()
  )

  it.prop(
    "a string parses exactly when it is in the grammar, whichever way it is read; a refusal points at the problem",
    [anyString],
    ([s]) => {
      const inGrammar = grammar.test(s)
      const parsed = Scopes.parse(s)
      expect(Either.isRight(parsed)).toBe(inGrammar)
      expect(Either.isRight(decode(s))).toBe(inGrammar)
      // fromTokens on the split string agrees for everything but the empty string (no token at all is no scope).
      if (s.length > 0) expect(Either.isRight(Scopes.fromTokens(s.split(" ")))).toBe(inGrammar)
      if (Either.isLeft(parsed)) {
        const p = parsed.left.position
        expect(p).toBeGreaterThanOrEqual(0)
        expect(p).toBeLessThanOrEqual(s.length)
        const badCharacter = p < s.length && s[p] !== " " && !isTokenChar(s[p]!)
        const emptyToken = (p === 0 || s[p - 1] === " ") && (p === s.length || s[p] === " ")
        expect(badCharacter || emptyToken, `position ${p} of ${JSON.stringify(s)}`).toBe(true)
      }
    },
    runs()
  )
})
