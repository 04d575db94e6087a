/**
 * Calling other services with Warden's credentials. Every client of a
 * procedure protected by `Authentication` must say how it authenticates
 * (a compile error otherwise): forward the caller's token, use the service's
 * own token, or none.
 *
 * - `forward`: inside a protected handler, send the caller's token on (the
 *   seed story: Orders forwards the user's token to Inventory, which verifies
 *   it again). A token that would expire within `margin` fails fast here with
 *   `Unauthenticated` (`expired`) instead of a confusing refusal downstream;
 *   for long-running work use a service token.
 * - `service`: send the service's own token from a `TokenSource`
 *   (`ClientCredentials`), never the caller's.
 * - `anonymous`: send no token; refused with `MissingCredentials` while the
 *   current request is authenticated, so a forgotten forward fails before
 *   anything is sent.
 *
 * Only `forward` clients ever see a caller's token.
 *
 * @since 0.1.0
 */
import * as PlatformHeaders from "@effect/platform/Headers"
import type * as Rpc from "@effect/rpc/Rpc"
import * as RpcClient from "@effect/rpc/RpcClient"
import type * as RpcClientError from "@effect/rpc/RpcClientError"
import type * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as RpcSchema from "@effect/rpc/RpcSchema"
import { Unauthenticated } from "@warden/core/AuthError"
import type { TokenError, TokenSource } from "@warden/oauth/TokenSource"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Authentication } from "./Authentication.js"
import { CallerCredentials } from "./internal/callerCredentials.js"

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
  | { readonly _tag: "Anonymous" }

/** Forward the caller's token. `margin` (default 5 seconds): the least validity left for it to be forwarded. */
export const forward = (options: { readonly margin?: Duration.DurationInput } = {}): Credentials => ({
  _tag: "Forward",
  margin: Duration.decode(options.margin ?? Duration.seconds(5))
})

/** Use the service's own token. */
export const service = (source: TokenSource): Credentials => ({ _tag: "Service", source })

/** Send no token (for public procedures), and refuse to do so inside an authenticated request. */
export const anonymous: Credentials = { _tag: "Anonymous" }

/** What can stop a call before it is sent. */
export type OutboundError = MissingCredentials | Unauthenticated | TokenError

/**
 * The client half of `Authentication` for code that sets the authorization
 * header itself (`RpcClient.withHeaders`), such as tests. Prefer `make`.
 */
export const layerManual: Layer.Layer<RpcMiddleware.ForClient<Authentication>> = RpcMiddleware.layerClient(
  Authentication,
  ({ request }) => Effect.succeed(request)
)

type Headers = Readonly<Record<string, string>>

const bearer = (token: Redacted.Redacted<string>): Headers => ({ authorization: `Bearer ${Redacted.value(token)}` })

/** The headers a call of `client` carries under `credentials`, or why it cannot be sent. */
export const headersFor = (
  client: string,
  credentials: Credentials
): Effect.Effect<Headers, OutboundError> =>
  Effect.flatMap(Effect.serviceOption(CallerCredentials), (caller): Effect.Effect<Headers, OutboundError> => {
    switch (credentials._tag) {
      case "Service":
        return Effect.map(credentials.source.token, (token) => bearer(token.value))
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
        if (expiresAt === null) return Effect.succeed(bearer(forwarded.token))
        return Effect.flatMap(
          Clock.currentTimeMillis,
          (now) =>
            expiresAt * 1000 - now < Duration.toMillis(credentials.margin) ?
              Effect.fail(
                Unauthenticated.of(
                  "expired",
                  `the caller's token expires within ${Duration.format(credentials.margin)}, too soon to forward; ` +
                    "use a service token for long-running work"
                )
              ) :
              Effect.succeed(bearer(forwarded.token))
        )
      }
    }
  })

/**
 * The client half of `Authentication` as a client middleware: every call of a
 * plain `RpcClient` carries the credentials chosen, as a per-RPC header.
 * A client middleware cannot fail, so a call whose credentials cannot be
 * resolved dies with the `OutboundError`; `make` gives the same behaviour
 * with the error typed, and is preferred.
 */
export const layerClient = (
  name: string,
  credentials: Credentials
): Layer.Layer<RpcMiddleware.ForClient<Authentication>> =>
  RpcMiddleware.layerClient(Authentication, ({ request }) =>
    Effect.map(
      Effect.orDie(headersFor(name, credentials)),
      (headers) => ({ ...request, headers: PlatformHeaders.merge(request.headers, PlatformHeaders.fromInput(headers)) })
    ))

type AnyFunction = (
  payload: unknown,
  options?: { readonly headers?: PlatformHeaders.Input; readonly asMailbox?: boolean }
) => unknown

/**
 * An RPC client whose every call carries the credentials chosen, resolved
 * just before sending; a call that cannot be authenticated fails with an
 * `OutboundError` and is never sent.
 */
export const make = <Rpcs extends Rpc.Any>(
  group: RpcGroup.RpcGroup<Rpcs>,
  options: { readonly name: string; readonly credentials: Credentials }
): Effect.Effect<
  RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError | OutboundError>,
  never,
  RpcClient.Protocol | Scope.Scope | Exclude<Rpc.MiddlewareClient<Rpcs>, RpcMiddleware.ForClient<Authentication>>
> =>
  Effect.gen(function*() {
    const client = (yield* RpcClient.make(group).pipe(Effect.provide(layerManual))) as unknown as Record<
      string,
      unknown
    >
    const headers = headersFor(options.name, options.credentials)
    const out: Record<string, unknown> = {}
    for (const rpc of group.requests.values() as Iterable<Rpc.AnyWithProps>) {
      const dot = rpc._tag.indexOf(".")
      const prefix = dot === -1 ? undefined : rpc._tag.slice(0, dot)
      const method = dot === -1 ? rpc._tag : rpc._tag.slice(dot + 1)
      const source = (prefix === undefined ? client : client[prefix]) as Record<string, AnyFunction>
      const target = prefix === undefined ? out : (out[prefix] ??= {}) as Record<string, unknown>
      const call = source[method]!
      const isStream = RpcSchema.isStreamSchema(rpc.successSchema)
      target[method] = (payload: unknown, opts: Parameters<AnyFunction>[1] = {}) => {
        const send = (h: Headers) =>
          call(payload, {
            ...opts,
            headers: PlatformHeaders.merge(PlatformHeaders.fromInput(opts.headers), PlatformHeaders.fromInput(h))
          })
        return isStream && opts.asMailbox !== true ?
          Stream.unwrap(Effect.map(headers, (h) => send(h) as Stream.Stream<unknown, unknown>)) :
          Effect.flatMap(headers, (h) => send(h) as Effect.Effect<unknown, unknown>)
      }
    }
    return out as unknown as RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError | OutboundError>
  })
