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
 * - `token`: send a token the caller holds (a user's token in a command-line
 *   client, say); a JWT about to expire fails fast, as with `forward`.
 * - `anonymous`: send no token; refused with `MissingCredentials` while the
 *   current request is authenticated, so a forgotten forward fails before
 *   anything is sent.
 *
 * Only `forward` clients ever see a caller's token.
 *
 * The tenant travels with the call: inside a request, every call that sends
 * a token also sends `x-tenant` with the tenant the request acts for (its
 * credential's own, or the one its `x-tenant` selected), and the next hop
 * derives it again from the credentials it receives, refusing it
 * (`tenant_not_signed`) unless they sign it. A service token therefore acts
 * for the tenant of the request it serves, and only if it signs that tenant
 * (its `tid` or `tenants` claim); outside any request it acts for its own
 * `tid`.
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
import * as Outgoing from "@warden/oauth/Outgoing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { Authentication } from "./Authentication.js"
import * as Guarded from "./internal/guarded.js"

// The credential choices are transport-neutral (`@warden/oauth/Outgoing`); the RPC clients below send them.
export {
  anonymous,
  apiKey,
  exchange,
  forward,
  headersFor,
  MissingCredentials,
  service,
  token
} from "@warden/oauth/Outgoing"
export type { Credentials, OutboundError } from "@warden/oauth/Outgoing"

/**
 * The client half of `Authentication`, registered as the RPC client looks it
 * up. It runs in the calling fiber and needs nothing from where it was built,
 * so unlike `RpcMiddleware.layerClient` it does not merge a second context
 * into every call.
 */
const clientHalf = (
  middleware: RpcMiddleware.RpcMiddlewareClient
): Layer.Layer<RpcMiddleware.ForClient<Authentication>> =>
  Layer.succeedContext(
    Context.unsafeMake(
      new Map([
        [`${Authentication.key}/Client`, middleware],
        // The procedures of a Protected.group carry it under this name at run time.
        [`${Guarded.keys.guarded}/Client`, middleware]
      ])
    )
  ) as Layer.Layer<RpcMiddleware.ForClient<Authentication>>

/**
 * The client half of `Authentication` for code that sets the authorization
 * header itself (`RpcClient.withHeaders`), such as tests. Prefer `make`.
 *
 * It satisfies the client's requirement and adds nothing to a call: the RPC
 * client runs no middleware for it.
 */
export const layerManual: Layer.Layer<RpcMiddleware.ForClient<Authentication>> = Layer.succeedContext(
  Context.empty()
) as Layer.Layer<RpcMiddleware.ForClient<Authentication>>

/**
 * The client half of `Authentication` as a client middleware: every call of a
 * plain `RpcClient` carries the credentials chosen, as a per-RPC header.
 * A client middleware cannot fail, so a call whose credentials cannot be
 * resolved dies with the `OutboundError`; `make` gives the same behaviour
 * with the error typed, and is preferred.
 */
export const layerClient = (
  name: string,
  credentials: Outgoing.Credentials
): Layer.Layer<RpcMiddleware.ForClient<Authentication>> =>
  clientHalf(({ request }) =>
    Effect.map(
      Effect.orDie(Outgoing.headersFor(name, credentials)),
      (headers) => ({ ...request, headers: PlatformHeaders.merge(request.headers, PlatformHeaders.fromInput(headers)) })
    )
  )

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
  options: { readonly name: string; readonly credentials: Outgoing.Credentials }
): Effect.Effect<
  RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError | Outgoing.OutboundError>,
  never,
  RpcClient.Protocol | Scope.Scope | Exclude<Rpc.MiddlewareClient<Rpcs>, RpcMiddleware.ForClient<Authentication>>
> =>
  Effect.gen(function*() {
    const client = (yield* RpcClient.make(group).pipe(Effect.provide(layerManual))) as unknown as Record<
      string,
      unknown
    >
    const headers = Outgoing.headersFor(options.name, options.credentials)
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
        const send = (h: Outgoing.Headers) =>
          call(payload, {
            ...opts,
            headers: PlatformHeaders.merge(PlatformHeaders.fromInput(opts.headers), PlatformHeaders.fromInput(h))
          })
        return isStream && opts.asMailbox !== true ?
          Stream.unwrap(Effect.map(headers, (h) => send(h) as Stream.Stream<unknown, unknown>)) :
          Effect.flatMap(headers, (h) => send(h) as Effect.Effect<unknown, unknown>)
      }
    }
    return out as unknown as RpcClient.RpcClient<Rpcs, RpcClientError.RpcClientError | Outgoing.OutboundError>
  })
