/**
 * A strict JSON parser for token headers and claims: RFC 8259 JSON, but a
 * member name repeated in one object is an error (RFC 7519 §4 lets a parser
 * keep the last one; Warden refuses, so `{"tid":"acme","tid":"globex"}`
 * cannot mean one thing to one service and another to the next). Nesting is
 * bounded so hostile input cannot exhaust the stack. Objects have no
 * prototype, so a claim name such as `constructor` reads only what was sent.
 *
 * The text is decoded by `JSON.parse` (native, exact) after one scan that
 * bounds the nesting and counts the member names outside strings: in valid
 * JSON every member has exactly one `:` outside a string, so the decoded
 * objects hold fewer members than the text names exactly when a name repeats.
 */
import * as Either from "effect/Either"

/** Deepest nesting of objects and arrays accepted. */
const maxDepth = 32

/** Members of every object in a decoded value, each object's prototype removed on the way. */
const countMembers = (value: unknown): number => {
  if (typeof value !== "object" || value === null) return 0
  if (Array.isArray(value)) {
    let n = 0
    for (let i = 0; i < value.length; i++) n += countMembers(value[i])
    return n
  }
  Object.setPrototypeOf(value, null)
  let n = 0
  for (const key in value) n += 1 + countMembers((value as Record<string, unknown>)[key])
  return n
}

export const parse = (text: string): Either.Either<unknown, string> => {
  let depth = 0
  let members = 0
  let inString = false
  /** The first backslash at or after the scan, or -1: found again only once the scan has passed it. */
  let escape = text.indexOf("\\")
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) {
      // Most strings hold no escape: jump to the next quote, and walk only when a backslash comes first.
      const close = text.indexOf("\"", i + 1)
      if (escape !== -1 && escape < i) escape = text.indexOf("\\", i)
      if (close !== -1 && (escape === -1 || escape > close)) i = close
      else inString = true
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return Either.left(`nesting too deep at offset ${i}`)
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    } else if (c === 0x3a) {
      members++
    }
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    // The engine's message quotes the input; the input is never repeated in an error.
    return Either.left("malformed JSON")
  }
  if (countMembers(value) !== members) return Either.left("duplicate member name")
  return Either.right(value)
}
