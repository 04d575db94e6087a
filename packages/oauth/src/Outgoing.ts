/**
 * How a call to the next hop authenticates, whatever carries it (Effect RPC,
 * HttpApi's HttpClient): forward the caller's token, the service's own
 * token, a token the caller holds, or none; and the headers that gives a
 * call, the tenant of the current request included. `@warden/rpc`'s and
 * `@warden/http`'s `Outbound` clients send these headers.
 *
 * - `forward`: inside a protected handler, send the caller's token on. A
 *   token that would expire within `margin` fails fast with
 *   `Unauthenticated` (`expired`) instead of a confusing refusal downstream.
 * - `service`: send the service's own token from a `TokenSource`
 *   (`ClientCredentials`), never the caller's.
 * - `token`: send a token the caller holds; a JWT about to expire fails fast.
 * - `exchange`: inside a protected handler, exchange the caller's token for
 *   one meant for the next hop alone (RFC 8693, `TokenExchange`) and send
 *   that: the next hop sees the user, the tenant, and this service as the
 *   actor.
 * - `anonymous`: send no token; refused with `MissingCredentials` while the
 *   current request is authenticated, so a forgotten forward fails before
 *   anything is sent.
 *
 * Inside a request, every call that sends a token also sends `x-tenant` with
 * the tenant the request acts for; the next hop derives it again from the
 * credentials it receives and refuses it unless they sign it.
 *
 * @since 0.2.0
 */
import type { Forbidden } from "@warden/core/AuthError"
import { Unauthenticated } from "@warden/core/AuthError"
import { CallerCredentials } from "@warden/core/Caller"
import { ApiKeyHeader } from "@warden/core/Credential"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type { Exchanger } from "./TokenExchange.js"
import type { TokenError, TokenSource } from "./TokenSource.js"

/** A call that would carry no token where one is required. Names the client; raised before anything is sent. */
export class MissingCredentials extends Schema.TaggedError<MissingCredentials>("@warden/MissingCredentials")(
  "MissingCredentials",
  { client: Schema.String, description: Schema.String }
) {
  override get message(): string {
    return `${this.client}: ${this.description}`
  }
}

/** How a client authenticates its calls. */
export type Credentials =
  | { readonly _tag: "Forward"; readonly margin: Duration.Duration }
  | { readonly _tag: "Service"; readonly source: TokenSource }
  | { readonly _tag: "ApiKey"; readonly key: Redacted.Redacted<string> }
  | {
    readonly _tag: "Token"
    readonly token: Redacted.Redacted<string>
    /** Epoch seconds, when the token is a JWT with an `exp`. */
    readonly expiresAt: number | null
    readonly margin: Duration.Duration
  }
  | { readonly _tag: "Exchange"; readonly exchanger: Exchanger; readonly margin: Duration.Duration }
  | { readonly _tag: "Anonymous" }

/** Forward the caller's token. `margin` (default 5 seconds): the least validity left for it to be forwarded. */
export const forward = (options: { readonly margin?: Duration.DurationInput } = {}): Credentials => ({
  _tag: "Forward",
  margin: Duration.decode(options.margin ?? Duration.seconds(5))
})

/**
 * Exchange the caller's token for one meant for the next hop (RFC 8693) and
 * send that. `margin` (default 5 seconds): the least validity the caller's
 * token must have left.
 *
 * @since 0.3.0
 * @example
 * ```ts
 * const exchanger = yield* TokenExchange.make({
 *   tokenEndpoint: "https://id.example/token",
 *   clientId: "orders",
 *   clientSecret: Redacted.make(secret),
 *   audience: "https://inventory.example"
 * })
 * const inventory = yield* Outbound.make(Inventory, { name: "inventory", credentials: Outbound.exchange(exchanger) })
 * ```
 */
export const exchange = (
  exchanger: Exchanger,
  options: { readonly margin?: Duration.DurationInput } = {}
): Credentials => ({
  _tag: "Exchange",
  exchanger,
  margin: Duration.decode(options.margin ?? Duration.seconds(5))
})

/** Use the service's own token. */
export const service = (source: TokenSource): Credentials => ({ _tag: "Service", source })

/** The `exp` of a JWT, read without verifying it (only to fail fast): `null` when it is not a JWT or has none. */
const unverifiedExpiry = (token: string): number | null => {
  const parts = token.split(".")
  if (parts.length !== 3) return null
  try {
    const claims: unknown = JSON.parse(Buffer.from(parts[1]!, "base64url").toString("utf8"))
    const exp = typeof claims === "object" && claims !== null ? (claims as { exp?: unknown }).exp : undefined
    return typeof exp === "number" && Number.isFinite(exp) ? exp : null
  } catch {
    return null
  }
}

/**
 * Send a token the caller holds, such as a user's token in a command-line
 * client or a script. When it is a JWT, its `exp` is read (not verified: the
 * server does that) so that a call fails fast with `Unauthenticated`
 * (`expired`) when the token expires within `margin` (default 5 seconds).
 *
 * @since 0.2.0
 * @example
 * ```ts
 * const orders = yield* Outbound.make(Orders, {
 *   name: "orders",
 *   credentials: Outbound.token(Redacted.make(accessToken))
 * })
 * ```
 */
export const token = (
  value: Redacted.Redacted<string> | string,
  options: { readonly margin?: Duration.DurationInput } = {}
): Credentials => {
  const redacted = typeof value === "string" ? Redacted.make(value) : value
  return {
    _tag: "Token",
    token: redacted,
    expiresAt: unverifiedExpiry(Redacted.value(redacted)),
    margin: Duration.decode(options.margin ?? Duration.seconds(5))
  }
}

/**
 * Send the service's API key, in `x-api-key`.
 *
 * @since 0.2.0
 */
export const apiKey = (key: Redacted.Redacted<string> | string): Credentials => ({
  _tag: "ApiKey",
  key: typeof key === "string" ? Redacted.make(key) : key
})

/** Send no token (for public procedures), and refuse to do so inside an authenticated request. */
export const anonymous: Credentials = { _tag: "Anonymous" }

/**
 * What can stop a call before it is sent. `Forbidden` is the current
 * request's own refused tenant selection, which a call cannot carry on.
 */
export type OutboundError = MissingCredentials | Unauthenticated | Forbidden | TokenError

/** The headers a call carries. */
export type Headers = Readonly<Record<string, string>>

const bearer = (token: Redacted.Redacted<string>): Headers => ({ authorization: `Bearer ${Redacted.value(token)}` })

/** The header that carries the tenant a call acts for. */
export const tenantHeader = "x-tenant"

/** Fails when a token expires within `margin`: forwarding it would only be refused downstream. */
const checkMargin = (
  expiresAt: number | null,
  margin: Duration.Duration,
  whose: string
): Effect.Effect<void, Unauthenticated> =>
  expiresAt === null ?
    Effect.void :
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      expiresAt * 1000 - now < Duration.toMillis(margin) ?
        Effect.fail(
          Unauthenticated.of(
            "expired",
            `${whose} expires within ${Duration.format(margin)}, too soon to send; ` +
              "use a service token for long-running work"
          )
        ) :
        Effect.void)

/** The headers a call of `client` carries under `credentials`, or why it cannot be sent. */
export const headersFor = (
  client: string,
  credentials: Credentials
): Effect.Effect<Headers, OutboundError> =>
  Effect.flatMap(
    Effect.zip(Effect.serviceOption(CallerCredentials), ApiKeyHeader),
    ([caller, apiKeyHeader]): Effect.Effect<Headers, OutboundError> => {
      // Inside a request, a call that carries a token carries the request's tenant with it.
      const withTenant = (headers: Headers): Effect.Effect<Headers, Forbidden> => {
        if (Option.isNone(caller)) return Effect.succeed(headers)
        const tenant = caller.value.tenant
        return Either.isLeft(tenant) ?
          Effect.fail(tenant.left) :
          Effect.succeed({ ...headers, [tenantHeader]: tenant.right })
      }
      switch (credentials._tag) {
        case "Service":
          return Effect.flatMap(credentials.source.token, (token) => withTenant(bearer(token.value)))
        case "ApiKey":
          return withTenant({ [apiKeyHeader]: Redacted.value(credentials.key) })
        case "Token":
          return Effect.zipRight(
            checkMargin(credentials.expiresAt, credentials.margin, "the token"),
            withTenant(bearer(credentials.token))
          )
        case "Anonymous":
          return Option.isSome(caller) ?
            Effect.fail(
              new MissingCredentials({
                client,
                description: "the call would carry no token while the current request is authenticated; " +
                  "forward the caller's token or use a service token"
              })
            ) :
            Effect.succeed({})
        case "Exchange": {
          if (Option.isNone(caller) || caller.value.credentials._tag !== "Bearer") {
            return Effect.fail(
              new MissingCredentials({
                client,
                description: "the client exchanges the caller's token, but there is no caller with a bearer token here"
              })
            )
          }
          const subject = caller.value.credentials.token
          return Effect.zipRight(
            checkMargin(caller.value.expiresAt, credentials.margin, "the caller's token"),
            Effect.flatMap(credentials.exchanger.exchange(subject), (token) => withTenant(bearer(token.value)))
          )
        }
        case "Forward": {
          if (Option.isNone(caller)) {
            return Effect.fail(
              new MissingCredentials({
                client,
                description: "the client forwards the caller's token, but there is no authenticated caller here"
              })
            )
          }
          const { credentials: forwarded, expiresAt } = caller.value
          if (forwarded._tag === "PeerCertificate") {
            return Effect.fail(
              new MissingCredentials({
                client,
                description: "the caller authenticated with a client certificate, which cannot be forwarded; " +
                  "call with the service's own token or key"
              })
            )
          }
          return Effect.zipRight(
            checkMargin(expiresAt, credentials.margin, "the caller's token"),
            withTenant(
              forwarded._tag === "Bearer" ? bearer(forwarded.token) : { [apiKeyHeader]: Redacted.value(forwarded.key) }
            )
          )
        }
      }
    }
  )
