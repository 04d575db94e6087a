/**
 * The hand-written baseline Warden is held against, in memory and over HTTP:
 * one ordinary (non-wrap) RPC middleware providing one service, the caller,
 * from a lookup of the authorization header. Nothing is verified.
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import * as RpcMiddleware from "@effect/rpc/RpcMiddleware"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

export class HandCaller extends Context.Tag("bench/HandCaller")<HandCaller, string>() {}
export class HandAuth extends RpcMiddleware.Tag<HandAuth>()("bench/HandAuth", { provides: HandCaller }) {}

/** The benchmarks' `Reserve` procedure behind the hand-written middleware. */
export const HandApi = RpcGroup.make(
  Rpc.make("Reserve", { payload: { sku: Schema.String }, success: Schema.String }).middleware(HandAuth)
)

/** The handlers, which read the caller, and the middleware, with `callerOf` as its lookup. */
export const layer = (callerOf: (authorization: string) => string) =>
  HandApi.toLayer({
    Reserve: ({ sku }) => Effect.map(HandCaller, (caller) => `reserved ${sku}${caller.length > 0 ? "" : "?"}`)
  }).pipe(
    Layer.merge(Layer.succeed(HandAuth, ({ headers }) => Effect.succeed(callerOf(headers["authorization"] ?? ""))))
  )
