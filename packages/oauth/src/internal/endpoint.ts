/**
 * A POST of form parameters to an authorization-server endpoint with client
 * authentication: https only (loopback http when allowed), a timeout, a body
 * cap, no redirects, JSON out. Failures name the endpoint's answer, never the
 * request (which carries secrets and tokens).
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Endpoint from "@warden/core/Endpoint"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as ClientAuth from "../ClientAuth.js"
import { TokenError } from "../TokenSource.js"

/** Checks an endpoint URL when a client is built, so a misconfiguration fails at start-up, naming the source. */
export const checkUrl = (
  url: string,
  allowInsecureLoopback: boolean | undefined,
  what: string,
  source: string
): Effect.Effect<void, TokenError> =>
  Either.match(Endpoint.checkUrl(url, allowInsecureLoopback === true, what), {
    onLeft: (description) => Effect.fail(new TokenError({ source, reason: "insecure_url", error: null, description })),
    onRight: () => Effect.void
  })

export type Failure =
  | { readonly reason: "insecure_url" | "unreachable" | "timeout" | "redirect" | "too_large" | "invalid_response" }
  | { readonly reason: "status"; readonly status: number; readonly error: string | null }

export interface EndpointOptions {
  readonly url: string
  readonly auth: ClientAuth.ClientAuth
  readonly allowInsecureLoopback?: boolean | undefined
  readonly timeout?: Duration.DurationInput | undefined
  readonly maxBytes?: number | undefined
}

const oauthError = (body: unknown): string | null => {
  const error = typeof body === "object" && body !== null ? (body as { error?: unknown }).error : undefined
  // RFC 6749 §5.2: error codes are %x20-21 / %x23-5B / %x5D-7E; anything else is not echoed.
  return typeof error === "string" && /^[\x20\x21\x23-\x5B\x5D-\x7E]{1,64}$/.test(error) ? error : null
}

/** Posts `params` and returns the parsed JSON of a 200 answer. */
export const post = (
  options: EndpointOptions,
  params: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>
): Effect.Effect<unknown, Failure, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const url = yield* Either.mapLeft(
      Endpoint.checkUrl(options.url, options.allowInsecureLoopback === true, "endpoint"),
      (): Failure => ({ reason: "insecure_url" })
    )
    const client = yield* HttpClient.HttpClient
    const auth = ClientAuth.apply(options.auth)
    const form: Array<[string, string]> = []
    for (const [key, value] of Object.entries({ ...params, ...auth.params })) {
      if (value === undefined) continue
      for (const v of typeof value === "string" ? [value] : value) form.push([key, v])
    }
    const request = HttpClientRequest.post(url.href).pipe(
      HttpClientRequest.setHeaders(auth.headers),
      HttpClientRequest.acceptJson,
      HttpClientRequest.bodyUrlParams(form)
    )
    const response = yield* client.execute(request).pipe(Effect.mapError((): Failure => ({ reason: "unreachable" })))
    if (response.status >= 300 && response.status < 400) return yield* Effect.fail<Failure>({ reason: "redirect" })
    const bytes = yield* Endpoint.readCapped(
      response.stream,
      options.maxBytes ?? 64 * 1024,
      (): Failure => ({ reason: "too_large" })
    ).pipe(Effect.catchTag("ResponseError", () => Effect.fail<Failure>({ reason: "unreachable" })))
    const body = Endpoint.parseJson(bytes)
    if (response.status !== 200) {
      return yield* Effect.fail<Failure>({ reason: "status", status: response.status, error: oauthError(body) })
    }
    if (body === undefined) return yield* Effect.fail<Failure>({ reason: "invalid_response" })
    return body
  }).pipe(
    Effect.scoped,
    Effect.timeoutFail({
      duration: options.timeout ?? Duration.seconds(10),
      onTimeout: (): Failure => ({ reason: "timeout" })
    }),
    Effect.provideService(FetchHttpClient.RequestInit, { redirect: "manual" })
  )
