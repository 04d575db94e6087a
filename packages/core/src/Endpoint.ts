/**
 * The rules for calling an authorization server, shared by everything that
 * does (the JWKS, token and introspection endpoints): which URLs are
 * acceptable, reading a response body under a size cap, and JSON read
 * strictly as UTF-8.
 *
 * @since 0.2.0
 */
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"

const loopback = (hostname: string): boolean =>
  hostname === "localhost" || hostname === "[::1]" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname)

/**
 * Accepts an https URL, or an http URL to a loopback host when
 * `allowInsecureLoopback` is set (tests, local development). Returns a message
 * saying what is wrong otherwise.
 */
export const checkUrl = (url: string, allowInsecureLoopback: boolean, what: string): Either.Either<URL, string> => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return Either.left(`the ${what} URL is not a URL`)
  }
  if (parsed.protocol === "https:") return Either.right(parsed)
  if (parsed.protocol === "http:" && allowInsecureLoopback && loopback(parsed.hostname)) return Either.right(parsed)
  return Either.left(
    allowInsecureLoopback ?
      `the ${what} URL must use https (plain http is allowed only to a loopback host)` :
      `the ${what} URL must use https (allowInsecureLoopback permits a loopback http URL in tests)`
  )
}

/** Reads a body of at most `maxBytes`, failing with `tooLarge` as soon as it is exceeded. */
export const readCapped = <E, E2>(
  stream: Stream.Stream<Uint8Array, E>,
  maxBytes: number,
  tooLarge: () => E2
): Effect.Effect<Uint8Array, E | E2> =>
  Effect.map(
    Stream.runFoldEffect(stream, { chunks: Chunk.empty<Uint8Array>(), size: 0 }, (acc, chunk) =>
      acc.size + chunk.length > maxBytes ?
        Effect.fail(tooLarge()) :
        Effect.succeed({ chunks: Chunk.append(acc.chunks, chunk), size: acc.size + chunk.length })),
    ({ chunks, size }) => {
      const out = new Uint8Array(size)
      let offset = 0
      for (const chunk of chunks) {
        out.set(chunk, offset)
        offset += chunk.length
      }
      return out
    }
  )

/** Decodes UTF-8 JSON strictly as text; `undefined` when it is not UTF-8 or not JSON. */
export const parseJson = (bytes: Uint8Array): unknown | undefined => {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes)) as unknown
  } catch {
    return undefined
  }
}
