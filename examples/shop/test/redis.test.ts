/**
 * The shop on Redis (what `SHOP_REDIS_URL` selects), against a real
 * redis-server: the whole story decides as it does in memory, and with two
 * inventory instances a revocation made on one is refused by the other, as
 * is a logout at the identity service.
 */
import * as RpcClient from "@effect/rpc/RpcClient"
import { describe, expect, it } from "@effect/vitest"
import { RevocationStore } from "@warden/jwt"
import { Outbound } from "@warden/rpc"
import { TestRedis } from "@warden/testing"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { makeIdentity } from "../src/identity.js"
import { Inventory } from "../src/inventory.js"
import { bearer, login, logout, protocol, scenario, signIn, withTelemetry } from "../src/scenario.js"
import { start } from "../src/shop.js"
import * as State from "../src/state.js"

const dir = () => mkdtempSync(join(tmpdir(), "warden-shop-redis-"))

/** What a refusal says, or "allowed". */
const outcomeOf = <A, E>(self: Effect.Effect<A, E>) =>
  Effect.match(self, {
    onFailure: (e) => typeof e === "object" && e !== null && "reason" in e ? String(e.reason) : String(e),
    onSuccess: () => "allowed"
  })

describe("the shop on Redis", () => {
  it.live("the whole story decides step for step as it does in memory", () =>
    Effect.gen(function*() {
      const redis = yield* TestRedis.shared
      const onRedis = yield* withTelemetry(scenario(dir(), { state: State.redis(redis.url, TestRedis.prefix()) }))
      const inMemory = yield* withTelemetry(scenario(dir()))
      const decisions = (report: typeof onRedis) => report.steps.map((s) => [s.n, s.outcome, s.reason])
      expect(decisions(onRedis)).toEqual(decisions(inMemory))
      expect(onRedis.steps.length).toBe(12)
      expect(onRedis.apiKeyStock.status).toBe(200)
      expect(onRedis.adjusted).toEqual(inMemory.adjusted)
    }).pipe(Effect.scoped), 120_000)

  it.live(
    "with two inventory instances, a revocation made on one is refused by the other, as is a logout at identity",
    () =>
      Effect.gen(function*() {
        const redis = yield* TestRedis.shared
        const state = State.redis(redis.url, TestRedis.prefix())
        const identity = yield* makeIdentity({ stores: yield* state.instance })
        const shop = yield* start(identity, dir(), {}, state)
        expect(shop.state).toBe("redis")
        const second = yield* shop.startInventory
        const clientOf = (url: string) =>
          RpcClient.make(Inventory).pipe(Effect.provide(Outbound.layerManual), Effect.provide(protocol(url)))
        const one = yield* clientOf(shop.urls.inventory)
        const two = yield* clientOf(second.url)
        const token = yield* login(identity, "alice")
        const level = (client: typeof one, t: string) => outcomeOf(client.StockLevel({ sku: "anvil" }).pipe(bearer(t)))
        expect(yield* level(one, token)).toBe("allowed")
        expect(yield* level(two, token)).toBe("allowed")

        // Logout everywhere for alice, written through the first instance's own connection.
        const { sub } = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as { sub: string }
        const now = Math.floor(Date.now() / 1000)
        yield* Context.get(shop.inventoryStores, RevocationStore.RevocationStore).revokeSubject(
          { issuer: identity.issuer, subject: sub },
          now,
          now + 600
        )
        // The second instance had verified and cached the token; it refuses it now, as does the first.
        expect(yield* level(two, token)).toBe("revoked")
        expect(yield* level(one, token)).toBe("revoked")
        // A token issued after the cutoff is accepted again, on both.
        yield* Effect.sleep("1100 millis")
        const fresh = yield* login(identity, "alice")
        expect(yield* level(two, fresh)).toBe("allowed")
        expect(yield* level(one, fresh)).toBe("allowed")

        // A logout at the identity service, over its own Redis connection: both instances refuse the session's token.
        const session = yield* signIn(identity, "bob")
        expect(yield* level(one, session.access)).toBe("allowed")
        expect(yield* level(two, session.access)).toBe("allowed")
        expect(yield* logout(identity, session.refresh!)).toBe(200)
        expect(yield* level(one, session.access)).toBe("revoked")
        expect(yield* level(two, session.access)).toBe("revoked")
      }).pipe(Effect.scoped),
    60_000
  )
})
