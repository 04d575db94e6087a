/**
 * A strict JSON parser for token headers and claims: RFC 8259 JSON, but a
 * member name repeated in one object is an error (RFC 7519 §4 lets a parser
 * keep the last one; Warden refuses, so `{"tid":"acme","tid":"globex"}`
 * cannot mean one thing to one service and another to the next). Nesting is
 * bounded so hostile input cannot exhaust the stack. Objects have no
 * prototype, so a claim name such as `constructor` reads only what was sent.
 *
 * The text is decoded by `JSON.parse` (native, exact) after one scan of its
 * UTF-8 bytes that bounds the nesting and counts the member names outside
 * strings: in valid JSON every member has exactly one `:` outside a string,
 * so the decoded objects hold fewer members than the text names exactly when
 * a name repeats.
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

/**
 * The members named outside strings and whether nesting stays within bounds: one pass over the UTF-8 bytes, where
 * every structural character is one ASCII byte and no byte of a multi-byte character is one (typed-array reads are
 * faster than walking the string). A string's bytes are stepped over, an escaped character with its backslash.
 */
const scan = (bytes: Uint8Array): number | string => {
  let depth = 0
  let members = 0
  const length = bytes.length
  for (let i = 0; i < length; i++) {
    const c = bytes[i]!
    if (c === 0x22) {
      for (i++; i < length; i++) {
        const d = bytes[i]!
        if (d === 0x22) break
        if (d === 0x5c) i++
      }
    } else if (c === 0x3a) {
      members++
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return `nesting too deep at offset ${i}`
    } else if (c === 0x7d || c === 0x5d) {
      depth--
    }
  }
  return members
}

/**
 * Parses `text`, whose UTF-8 encoding is `bytes`: a verifier that decoded a
 * token's segment to bytes hands both, and the bytes are not made again.
 */
export const parseEncoded = (text: string, bytes: Uint8Array): Either.Either<unknown, string> => {
  const members = scan(bytes)
  if (typeof members === "string") return Either.left(members)
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
