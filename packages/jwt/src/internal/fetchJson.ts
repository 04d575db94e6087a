/**
 * A JSON document fetched defensively, for the key set and the issuer's
 * metadata alike: https only (plain http only to a loopback host, and only
 * when allowed explicitly), a timeout, a body size cap, no redirects, UTF-8
 * JSON. Failures are typed by the caller's error; their messages never hold
 * a response body.
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Endpoint from "@warden/core/Endpoint"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"

/** Why a fetch failed. */
export type Failure = "insecure_url" | "timeout" | "transport" | "redirect" | "status" | "too_large" | "invalid"

export interface Options {
  /** Allows `http:` to a loopback host (127.0.0.0/8, ::1, localhost), for tests and local development. */
  readonly allowInsecureLoopback?: boolean
  readonly timeout?: Duration.DurationInput
  /** The largest response body accepted, in bytes. */
  readonly maxBytes?: number
}

/** The document and its `Cache-Control` header. */
export interface Fetched {
  readonly json: unknown
  readonly cacheControl: string | undefined
}

/**
 * Fetches `url` as JSON. `what` names the document in messages ("JWKS",
 * "issuer metadata"); `fail` builds the caller's error.
 */
export const fetchJson = <E>(
  url: string,
  what: string,
  fail: (reason: Failure, message: string, status?: number) => E,
  options: Options & { readonly defaultMaxBytes: number; readonly span: string }
): Effect.Effect<Fetched, E, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const target = yield* Either.mapLeft(
      Endpoint.checkUrl(url, options.allowInsecureLoopback === true, what),
      (message) => fail("insecure_url", message)
    )
    const maxBytes = options.maxBytes ?? options.defaultMaxBytes
    const client = yield* HttpClient.HttpClient
    const response = yield* client.execute(HttpClientRequest.get(target.href).pipe(HttpClientRequest.acceptJson)).pipe(
      Effect.mapError(() => fail("transport", `the ${what} endpoint could not be reached`))
    )
    if (response.status >= 300 && response.status < 400) {
      return yield* Effect.fail(fail("redirect", `the ${what} endpoint answered with a redirect`))
    }
    if (response.status !== 200) {
      return yield* Effect.fail(
        fail("status", `the ${what} endpoint answered with HTTP ${response.status}`, response.status)
      )
    }
    const declared = Number(response.headers["content-length"] ?? "0")
    const tooLarge = fail("too_large", `the ${what} is larger than ${maxBytes} bytes`)
    if (declared > maxBytes) return yield* Effect.fail(tooLarge)
    const bytes = yield* Endpoint.readCapped(
      Stream.mapError(response.stream, () => fail("transport", `the ${what} response broke off`)),
      maxBytes,
      () => tooLarge
    )
    const text = yield* Effect.try({
      try: () => new TextDecoder("utf-8", { fatal: true }).decode(bytes),
      catch: () => fail("invalid", `the ${what} is not UTF-8`)
    })
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as unknown,
      catch: () => fail("invalid", `the ${what} is not JSON`)
    })
    return { json, cacheControl: response.headers["cache-control"] }
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({
      duration: options.timeout ?? Duration.seconds(5),
      onTimeout: () => fail("timeout", `the ${what} endpoint did not answer in time`)
    }),
    // fetch-based clients follow redirects unless told not to; these documents must not move.
    Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" }),
    Effect.withSpan(options.span, { attributes: { "url.full": url }, captureStackTrace: false })
  )
