import { describe, expect, it } from "@effect/vitest"
import { Scopes } from "@warden/core"
import * as Either from "effect/Either"
import * as Equal from "effect/Equal"
import * as FastCheck from "effect/FastCheck"
import * as Hash from "effect/Hash"
import * as Schema from "effect/Schema"

const parsed = (input: string): Scopes.Scopes =>
  Either.getOrThrowWith(Scopes.parse(input), (e) => new Error(`expected "${input}" to parse: ${e.message}`))

const rejected = (input: string): Scopes.InvalidScope =>
  Either.getOrThrowWith(Either.flip(Scopes.parse(input)), () => new Error(`expected ${JSON.stringify(input)} to fail`))

/** Every character a scope-token may contain: %x21 / %x23-5B / %x5D-7E. */
const tokenChars: ReadonlyArray<string> = Array.from(
  { length: 0x7e - 0x21 + 1 },
  (_, i) => String.fromCharCode(0x21 + i)
)
  .filter((c) => c !== "\"" && c !== "\\")

const isTokenChar = (c: string): boolean => tokenChars.includes(c)

const tokenChar = FastCheck.constantFrom(...tokenChars)
const scopeToken = FastCheck.string({ unit: tokenChar, minLength: 1, maxLength: 12 })
const uniqueTokens = FastCheck.uniqueArray(scopeToken, { minLength: 1, maxLength: 8 })

/** One UTF-16 code unit, or a whole astral character, that is neither a token character nor a space. */
const outsideGrammar = FastCheck.oneof(
  FastCheck.integer({ min: 0x00, max: 0x1f }).map((c) => String.fromCharCode(c)),
  FastCheck.constantFrom("\"", "\\", "\x7f", "\u00a0", "\t", "\u043e", "\uff4f", "\u2028", "\ufeff"),
  FastCheck.integer({ min: 0x80, max: 0xffff }).map((c) => String.fromCharCode(c)),
  FastCheck.fullUnicode().filter((c) => c !== " " && !isTokenChar(c))
)

const props = { fastCheck: { numRuns: 1000 } }

describe("Scopes.parse", () => {
  it("parses a single scope-token", () => {
    const scopes = parsed("orders.read")
    expect(scopes.tokens).toEqual(["orders.read"])
    expect(scopes.size).toBe(1)
  })

  it("parses space-delimited scope-tokens in the order given", () => {
    expect(parsed("openid orders.read orders.write").tokens).toEqual(["openid", "orders.read", "orders.write"])
  })

  it("accepts every character of the grammar's token range", () => {
    const all = tokenChars.join("")
    expect(parsed(all).tokens).toEqual([all])
    expect(parsed("! # [ ] ~").tokens).toEqual(["!", "#", "[", "]", "~"])
  })

  it("keeps a duplicated token once, at its first position", () => {
    const scopes = parsed("b a b c a")
    expect(scopes.tokens).toEqual(["b", "a", "c"])
    expect(scopes.size).toBe(3)
    expect(Scopes.render(scopes)).toBe("b a c")
  })

  it.prop(
    "round-trips any list of unique scope-tokens through parse and render",
    [uniqueTokens],
    ([tokens]) => {
      const input = tokens.join(" ")
      const scopes = parsed(input)
      expect(scopes.tokens).toEqual(tokens)
      expect([...scopes]).toEqual(tokens)
      expect(Scopes.render(scopes)).toBe(input)
      expect(String(scopes)).toBe(input)
    },
    props
  )

  it.prop(
    "keeps the first occurrence of each token when tokens repeat",
    [FastCheck.array(FastCheck.constantFrom("a", "b", "c", "d"), { minLength: 1, maxLength: 10 })],
    ([tokens]) => {
      const firstOccurrences = tokens.filter((t, i) => tokens.indexOf(t) === i)
      expect(parsed(tokens.join(" ")).tokens).toEqual(firstOccurrences)
    },
    props
  )

  it("rejects the empty string", () => {
    const error = rejected("")
    expect(error._tag).toBe("InvalidScope")
    expect(error.position).toBe(0)
    expect(error.message).toBe("the scope string is empty")
  })

  it.each([
    { input: " orders.read", position: 0, name: "a leading space" },
    { input: "orders.read ", position: 12, name: "a trailing space" },
    { input: "orders.read  orders.write", position: 12, name: "a doubled space" },
    { input: " ", position: 0, name: "a lone space" }
  ])("rejects $name as an empty scope-token", ({ input, position }) => {
    const error = rejected(input)
    expect(error._tag).toBe("InvalidScope")
    expect(error.position).toBe(position)
    expect(error.message).toBe(
      `empty scope-token at position ${position}: scopes are separated by exactly one space`
    )
  })

  it.each([
    { input: "orders.read\torders.write", position: 11, what: "a tab" },
    { input: "orders.read\u00a0orders.write", position: 11, what: "a no-break space" },
    { input: "say\"hi\"", position: 3, what: "'\"'" },
    { input: "a\\b", position: 1, what: "'\\'" },
    { input: "a\nb", position: 1, what: "control character U+000A" },
    { input: "\u0000", position: 0, what: "control character U+0000" },
    { input: "orders\x7f", position: 6, what: "control character U+007F" },
    { input: "\u043erders.read", position: 0, what: "U+043E" },
    { input: "orders.r\uff45ad", position: 8, what: "U+FF45" },
    { input: "ｏｒｄｅｒｓ", position: 0, what: "U+FF4F" },
    { input: "caf\u00e9", position: 3, what: "U+00E9" }
  ])("rejects $what at position $position with a message naming it", ({ input, position, what }) => {
    const error = rejected(input)
    expect(error._tag).toBe("InvalidScope")
    expect(error.position).toBe(position)
    expect(error.message).toBe(`${what} at position ${position} is not allowed in a scope`)
  })

  it("rejects a Cyrillic look-alike even though it renders like the Latin scope", () => {
    expect(Either.isRight(Scopes.parse("orders.read"))).toBe(true)
    expect(Either.isLeft(Scopes.parse("\u043erders.read"))).toBe(true)
  })

  it.prop(
    "rejects any string containing a character outside %x21 / %x23-5B / %x5D-7E and the space",
    [
      FastCheck.string({ unit: FastCheck.oneof(tokenChar, FastCheck.constant(" "), outsideGrammar), maxLength: 12 }),
      outsideGrammar,
      FastCheck.string({ unit: "grapheme", maxLength: 12 })
    ],
    ([before, bad, after]) => {
      const error = rejected(before + bad + after)
      expect(error._tag).toBe("InvalidScope")
      expect(error.position).toBeLessThanOrEqual(before.length)
      expect(error.message).toMatch(/position \d+/)
    },
    props
  )

  it.prop(
    "reports the position of the first character outside the grammar",
    [FastCheck.string({ unit: tokenChar, maxLength: 12 }), outsideGrammar, FastCheck.string({ maxLength: 12 })],
    ([before, bad, after]) => {
      const error = rejected(before + bad + after)
      expect(error.position).toBe(before.length)
      expect(error.message).toContain(`at position ${before.length} is not allowed in a scope`)
    },
    props
  )

  it.prop(
    "rejects a leading, trailing or doubled space around valid tokens, at the empty token",
    [
      FastCheck.uniqueArray(scopeToken, { minLength: 2, maxLength: 8 }),
      FastCheck.nat(),
      FastCheck.constantFrom("leading", "trailing", "doubled")
    ],
    ([tokens, n, where]) => {
      const split = 1 + (n % (tokens.length - 1))
      const head = tokens.slice(0, split).join(" ")
      const input = where === "leading" ?
        ` ${tokens.join(" ")}` :
        where === "trailing" ?
        `${tokens.join(" ")} ` :
        `${head}  ${tokens.slice(split).join(" ")}`
      const position = where === "leading" ? 0 : where === "trailing" ? input.length : head.length + 1
      const error = rejected(input)
      expect(error.position).toBe(position)
      expect(error.message).toBe(
        `empty scope-token at position ${position}: scopes are separated by exactly one space`
      )
    },
    props
  )
})

describe("Scopes.fromTokens", () => {
  it("builds scopes from individual tokens, keeping order and dropping duplicates", () => {
    const scopes = Either.getOrThrow(Scopes.fromTokens(["b", "a", "b"]))
    expect(scopes.tokens).toEqual(["b", "a"])
  })

  it("rejects an empty token, naming its index", () => {
    const error = Either.getOrThrow(Either.flip(Scopes.fromTokens(["a", ""])))
    expect(error.position).toBe(1)
    expect(error.message).toBe("scope-token 1 is empty")
  })

  it("rejects a token containing a space, since a token is never split", () => {
    const error = Either.getOrThrow(Either.flip(Scopes.fromTokens(["orders.read orders.write"])))
    expect(error.message).toBe("a space in scope-token 0 is not allowed in a scope")
  })

  it("rejects a look-alike character in a token", () => {
    const error = Either.getOrThrow(Either.flip(Scopes.fromTokens(["ok", "\u043erders"])))
    expect(error.message).toBe("U+043E in scope-token 1 is not allowed in a scope")
  })

  it.prop(
    "agrees with parse on any list of valid tokens",
    [uniqueTokens],
    ([tokens]) => {
      const scopes = Either.getOrThrow(Scopes.fromTokens(tokens))
      expect(scopes.tokens).toEqual(tokens)
      expect(Equal.equals(scopes, parsed(tokens.join(" ")))).toBe(true)
    },
    props
  )
})

describe("Scopes.has", () => {
  const scopes = parsed("orders.read orders.write")

  it("matches a token exactly", () => {
    expect(scopes.has("orders.write")).toBe(true)
    expect(scopes.has("orders.read")).toBe(true)
  })

  it("does not match a token differing in case", () => {
    expect(scopes.has("orders.Write")).toBe(false)
    expect(scopes.has("ORDERS.WRITE")).toBe(false)
  })

  it("does not match a prefix, an extension or a look-alike of a token", () => {
    expect(scopes.has("orders")).toBe(false)
    expect(scopes.has("orders.writer")).toBe(false)
    expect(scopes.has("orders.write ")).toBe(false)
    expect(scopes.has("\u043erders.write")).toBe(false)
    expect(scopes.has("orders.read orders.write")).toBe(false)
  })

  it("matches nothing in the empty scopes", () => {
    expect(Scopes.empty.size).toBe(0)
    expect(Scopes.empty.has("")).toBe(false)
    expect(Scopes.empty.has("orders.read")).toBe(false)
    expect(Scopes.render(Scopes.empty)).toBe("")
  })

  it.prop(
    "holds exactly for the parsed tokens",
    [uniqueTokens, scopeToken],
    ([tokens, candidate]) => {
      const scopes = parsed(tokens.join(" "))
      for (const token of tokens) expect(scopes.has(token)).toBe(true)
      expect(scopes.has(candidate)).toBe(tokens.includes(candidate))
    },
    props
  )
})

describe("Scopes equality", () => {
  it("ignores order", () => {
    expect(Equal.equals(parsed("a b c"), parsed("c a b"))).toBe(true)
    expect(Hash.hash(parsed("a b c"))).toBe(Hash.hash(parsed("c a b")))
  })

  it("ignores duplicates", () => {
    expect(Equal.equals(parsed("a b a"), parsed("b a"))).toBe(true)
  })

  it("tells different sets apart", () => {
    expect(Equal.equals(parsed("a b"), parsed("a b c"))).toBe(false)
    expect(Equal.equals(parsed("a b c"), parsed("a b"))).toBe(false)
    expect(Equal.equals(parsed("a b"), parsed("a c"))).toBe(false)
    expect(Equal.equals(parsed("a"), parsed("A"))).toBe(false)
  })

  it("is not equal to a non-Scopes value", () => {
    expect(Equal.equals(parsed("a"), "a")).toBe(false)
    expect(Equal.equals(parsed("a"), ["a"])).toBe(false)
    expect(Scopes.isScopes(parsed("a"))).toBe(true)
    expect(Scopes.isScopes({ tokens: ["a"] })).toBe(false)
    expect(Scopes.isScopes(null)).toBe(false)
  })

  it.prop(
    "holds between any list of tokens and any permutation of it, with equal hashes",
    [uniqueTokens.chain((tokens) =>
      FastCheck.tuple(
        FastCheck.constant(tokens),
        FastCheck.shuffledSubarray(tokens, { minLength: tokens.length, maxLength: tokens.length })
      )
    )],
    ([[tokens, shuffled]]) => {
      const a = parsed(tokens.join(" "))
      const b = parsed(shuffled.join(" "))
      expect(Equal.equals(a, b)).toBe(true)
      expect(Hash.hash(a)).toBe(Hash.hash(b))
    },
    props
  )
})

describe("Scopes.FromString", () => {
  it("decodes a scope string and encodes it back", () => {
    const scopes = Schema.decodeUnknownSync(Scopes.FromString)("orders.read orders.write")
    expect(Scopes.isScopes(scopes)).toBe(true)
    expect(scopes.tokens).toEqual(["orders.read", "orders.write"])
    expect(Schema.encodeSync(Scopes.FromString)(scopes)).toBe("orders.read orders.write")
  })

  it.each(["", " a", "a  b", "a\tb", "\u043e", "a\"b"])("fails with a ParseError on %j", (input) => {
    const result = Schema.decodeUnknownEither(Scopes.FromString)(input)
    const error = Either.getOrThrow(Either.flip(result))
    expect(error._tag).toBe("ParseError")
    expect(error.message).toContain(rejected(input).message)
  })

  it("fails with a ParseError on a non-string", () => {
    const error = Either.getOrThrow(Either.flip(Schema.decodeUnknownEither(Scopes.FromString)(["a"])))
    expect(error._tag).toBe("ParseError")
  })

  it.prop(
    "round-trips any list of unique scope-tokens",
    [uniqueTokens],
    ([tokens]) => {
      const input = tokens.join(" ")
      const scopes = Schema.decodeUnknownSync(Scopes.FromString)(input)
      expect(scopes.tokens).toEqual(tokens)
      expect(Schema.encodeSync(Scopes.FromString)(scopes)).toBe(input)
    },
    props
  )
})

describe("Scopes.FromArray", () => {
  it("decodes an array of tokens and encodes it back", () => {
    const scopes = Schema.decodeUnknownSync(Scopes.FromArray)(["orders.read", "orders.write"])
    expect(scopes.tokens).toEqual(["orders.read", "orders.write"])
    expect(Schema.encodeSync(Scopes.FromArray)(scopes)).toEqual(["orders.read", "orders.write"])
  })

  it("decodes duplicates once", () => {
    const scopes = Schema.decodeUnknownSync(Scopes.FromArray)(["a", "b", "a"])
    expect(Schema.encodeSync(Scopes.FromArray)(scopes)).toEqual(["a", "b"])
  })

  it("decodes the empty array to the empty scopes", () => {
    const scopes = Schema.decodeUnknownSync(Scopes.FromArray)([])
    expect(Equal.equals(scopes, Scopes.empty)).toBe(true)
  })

  it.each([
    { input: [""], message: "scope-token 0 is empty" },
    { input: ["a", "b c"], message: "a space in scope-token 1 is not allowed in a scope" },
    { input: ["ｏrders"], message: "U+FF4F in scope-token 0 is not allowed in a scope" }
  ])("fails with a ParseError on $input", ({ input, message }) => {
    const error = Either.getOrThrow(Either.flip(Schema.decodeUnknownEither(Scopes.FromArray)(input)))
    expect(error._tag).toBe("ParseError")
    expect(error.message).toContain(message)
  })

  it.each([{ input: "a b" }, { input: [1] }, { input: null }, { input: [null] }])(
    "fails with a ParseError on $input, which is not an array of strings",
    ({ input }) => {
      const error = Either.getOrThrow(Either.flip(Schema.decodeUnknownEither(Scopes.FromArray)(input)))
      expect(error._tag).toBe("ParseError")
    }
  )
})
