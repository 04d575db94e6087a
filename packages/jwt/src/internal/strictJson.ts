/**
 * A strict JSON parser for token headers and claims: RFC 8259 JSON, but a
 * member name repeated in one object is an error (RFC 7519 §4 lets a parser
 * keep the last one; Warden refuses, so `{"tid":"acme","tid":"globex"}`
 * cannot mean one thing to one service and another to the next). Nesting is
 * bounded so hostile input cannot exhaust the stack.
 */
import * as Either from "effect/Either"

const maxDepth = 32

class Failure {
  constructor(readonly message: string) {}
}

export const parse = (text: string): Either.Either<unknown, string> => {
  let i = 0
  const fail = (message: string): never => {
    throw new Failure(`${message} at offset ${i}`)
  }
  const ws = () => {
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) i++
      else break
    }
  }
  const string = (): string => {
    // Find the closing quote, then let JSON.parse decode escapes exactly.
    const start = i
    i++
    while (i < text.length) {
      const c = text.charCodeAt(i)
      if (c === 0x22) break
      if (c === 0x5c) i += 2
      else if (c < 0x20) fail("control character in string")
      else i++
    }
    if (i >= text.length) fail("unterminated string")
    i++
    try {
      return JSON.parse(text.slice(start, i)) as string
    } catch {
      return fail("invalid string escape")
    }
  }
  const number = (): number => {
    const match = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 64))
    if (match === null) return fail("invalid value")
    i += match[0].length
    return Number(match[0])
  }
  const literal = (word: string, value: unknown): unknown => {
    if (text.startsWith(word, i)) {
      i += word.length
      return value
    }
    return fail("invalid value")
  }
  const value = (depth: number): unknown => {
    if (depth > maxDepth) fail("nesting too deep")
    ws()
    const c = text[i]
    switch (c) {
      case "{": {
        i++
        const out: Record<string, unknown> = Object.create(null)
        const seen = new Set<string>()
        ws()
        if (text[i] === "}") {
          i++
          return out
        }
        for (;;) {
          ws()
          if (text[i] !== "\"") fail("expected a member name")
          const key = string()
          if (seen.has(key)) fail("duplicate member name")
          seen.add(key)
          ws()
          if (text[i] !== ":") fail("expected ':'")
          i++
          out[key] = value(depth + 1)
          ws()
          if (text[i] === ",") {
            i++
            continue
          }
          if (text[i] === "}") {
            i++
            return out
          }
          fail("expected ',' or '}'")
        }
      }
      // falls through (unreachable: the loop returns or throws)
      case "[": {
        i++
        const out: Array<unknown> = []
        ws()
        if (text[i] === "]") {
          i++
          return out
        }
        for (;;) {
          out.push(value(depth + 1))
          ws()
          if (text[i] === ",") {
            i++
            continue
          }
          if (text[i] === "]") {
            i++
            return out
          }
          fail("expected ',' or ']'")
        }
      }
      // falls through (unreachable)
      case "\"":
        return string()
      case "t":
        return literal("true", true)
      case "f":
        return literal("false", false)
      case "n":
        return literal("null", null)
      default:
        return number()
    }
  }
  try {
    const result = value(0)
    ws()
    if (i !== text.length) fail("unexpected data after the value")
    return Either.right(result)
  } catch (e) {
    if (e instanceof Failure) return Either.left(e.message)
    throw e
  }
}
