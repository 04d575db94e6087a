/**
 * Configuring the verifier from an issuer URL alone: its metadata (OpenID
 * Connect Discovery, `/.well-known/openid-configuration`, or RFC 8414,
 * `/.well-known/oauth-authorization-server`) is fetched with the same
 * transport rules as the key set (https, or http to loopback when allowed;
 * a timeout, a size cap, no redirects), its `issuer` must be the configured
 * one exactly (OIDC Discovery §4.3, RFC 8414 §3.3), and its `jwks_uri` must
 * pass the key set's URL rules. The key store then fetches that key set.
 *
 * @since 0.2.0
 * @example
 * ```ts
 * const Verification = Discovery.layerIssuer({ issuer: "https://id.example.com", audience: "https://orders" })
 * ```
 */
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import type * as HttpClient from "@effect/platform/HttpClient"
import type * as Authenticator from "@warden/core/Authenticator"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as FetchJson from "./internal/fetchJson.js"
import * as JwksSource from "./JwksSource.js"
import * as JwtVerifier from "./JwtVerifier.js"
import type * as KeyStore from "./KeyStore.js"
import type * as RevocationStore from "./RevocationStore.js"

/** Why the issuer's metadata could not be used. */
export type Failure = FetchJson.Failure | "issuer_mismatch"

/** The issuer's metadata could not be fetched or used. The message never holds a response body. */
export class DiscoveryError extends Data.TaggedError("DiscoveryError")<{
  readonly reason: Failure
  readonly message: string
}> {}

/** What Warden reads of the metadata. */
export interface Metadata {
  readonly issuer: string
  readonly jwksUri: string
}

/** The metadata URLs of an issuer, tried in order: OIDC Discovery, then RFC 8414. */
export const metadataUrls = (issuer: string): ReadonlyArray<string> => {
  const url = new URL(issuer)
  const path = url.pathname.replace(/\/$/, "")
  return [
    `${url.origin}${path}/.well-known/openid-configuration`,
    `${url.origin}/.well-known/oauth-authorization-server${path}`
  ]
}

/** Options of the fetch. */
export type Options = FetchJson.Options

const fail = (reason: Failure, message: string) => new DiscoveryError({ reason, message })

/** Reads the members Warden uses, and checks them against the configured issuer. */
export const decode = (
  document: unknown,
  issuer: string,
  allowInsecureLoopback: boolean
): Either.Either<Metadata, DiscoveryError> => {
  if (typeof document !== "object" || document === null || Array.isArray(document)) {
    return Either.left(fail("invalid", "the issuer metadata is not a JSON object"))
  }
  const record = document as Record<string, unknown>
  if (record["issuer"] !== issuer) {
    return Either.left(
      fail("issuer_mismatch", "the issuer metadata names another issuer than the one configured")
    )
  }
  const jwksUri = record["jwks_uri"]
  if (typeof jwksUri !== "string") {
    return Either.left(fail("invalid", "the issuer metadata has no jwks_uri"))
  }
  return Either.map(
    Either.mapLeft(JwksSource.checkUrl(jwksUri, allowInsecureLoopback), (e) => fail("insecure_url", e.message)),
    () => ({ issuer, jwksUri })
  )
}

/** Fetches the issuer's metadata: OIDC Discovery first, RFC 8414 when that answers 404. */
export const fetch = (
  issuer: string,
  options: Options = {}
): Effect.Effect<Metadata, DiscoveryError, HttpClient.HttpClient> =>
  Effect.gen(function*() {
    const urls = yield* Effect.try({
      try: () => metadataUrls(issuer),
      catch: () => fail("insecure_url", "the issuer is not a URL")
    })
    /** A 404 is kept apart from other failures: it sends the fetch to the next well-known URL. */
    class NotFound {}
    const get = (url: string) =>
      FetchJson.fetchJson<DiscoveryError | NotFound>(
        url,
        "issuer metadata",
        (reason, message, status) => status === 404 ? new NotFound() : fail(reason, message),
        { ...options, defaultMaxBytes: 64 * 1024, span: "warden.discovery.fetch" }
      )
    const notFound = fail("status", "the issuer metadata endpoint answered with HTTP 404")
    const fetched = yield* get(urls[0]!).pipe(
      Effect.catchIf((e) => e instanceof NotFound, () => get(urls[1]!)),
      Effect.mapError((e) => e instanceof NotFound ? notFound : e)
    )
    return yield* decode(fetched.json, issuer, options.allowInsecureLoopback === true)
  })

/**
 * `JwtVerifier.layerIssuer` from the issuer's metadata: the verifier with
 * safe defaults, its key store on the discovered `jwks_uri`, a revocation
 * store and the `Authenticator`. Fails to build when the metadata cannot be
 * fetched or names another issuer.
 */
export const layerIssuer = (options: {
  readonly issuer: string
  readonly audience: string | readonly [string, ...Array<string>]
  readonly allowInsecureLoopback?: boolean
  readonly verifier?: Partial<Omit<JwtVerifier.Options, "issuers" | "audience">>
  readonly keyStore?: Partial<Omit<KeyStore.Options, "jwksUrl" | "allowInsecureLoopback">>
  readonly revocations?: Layer.Layer<RevocationStore.RevocationStore>
}): Layer.Layer<
  Authenticator.Authenticator | JwtVerifier.JwtVerifier | KeyStore.KeyStore | RevocationStore.RevocationStore,
  JwtVerifier.InvalidOptions | JwksSource.JwksFetchError | DiscoveryError
> =>
  Layer.unwrapEffect(
    Effect.map(
      fetch(options.issuer, { allowInsecureLoopback: options.allowInsecureLoopback === true }).pipe(
        Effect.provide(FetchHttpClient.layer)
      ),
      (metadata) =>
        JwtVerifier.layerIssuer({
          issuer: metadata.issuer,
          audience: options.audience,
          jwksUrl: metadata.jwksUri,
          keyStore: { ...options.keyStore, allowInsecureLoopback: options.allowInsecureLoopback === true },
          ...(options.verifier === undefined ? {} : { verifier: options.verifier }),
          ...(options.revocations === undefined ? {} : { revocations: options.revocations })
        })
    )
  )
