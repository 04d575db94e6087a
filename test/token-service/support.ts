/** What the token-service tests share: the demo user, form posts to the token endpoint, a served token service. */
import * as NodeHttpServer from "@effect/platform-node/NodeHttpServer"
import * as HttpApiBuilder from "@effect/platform/HttpApiBuilder"
import type { RevocationStore } from "@warden/jwt"
import { TestNet } from "@warden/testing"
import { Password, RefreshStore, TokenApi, TokenService, UserStore } from "@warden/token-service"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import { createServer } from "node:http"

/** A cost that keeps tests fast; production keeps `Password.defaultCost`. */
export const cheap: Password.Cost = { N: 2 ** 10, r: 8, p: 1 }

/** Alice, in acme, with her password. */
export const alice = (over: Partial<UserStore.Seed> = {}): UserStore.Seed => ({
  username: "alice",
  password: Redacted.make("wonderland 42"),
  subject: "u-alice",
  tenant: "acme",
  scope: "stock.read",
  ...over
})

/** A token endpoint's JSON answer, as the tests read it: each field may be absent, which the tests check. */
export interface Answer {
  readonly access_token: string
  readonly refresh_token: string
  readonly issued_token_type: string
  readonly error: string
  readonly error_description: string
}

/**
 * A form POST with HTTP Basic client authentication; the JSON body (empty for none). A `URLSearchParams` form may
 * repeat a parameter; a string is sent as it is, as `contentType`.
 */
export const post = (
  url: string,
  form: Record<string, string> | URLSearchParams | string,
  basic = "web:web-secret",
  contentType = "application/x-www-form-urlencoded"
) =>
  Effect.promise(async () => {
    const response = await fetch(url, {
      method: "POST",
      headers: {
        authorization: `Basic ${Buffer.from(basic).toString("base64")}`,
        "content-type": contentType
      },
      body: typeof form === "string" || form instanceof URLSearchParams ? form : new URLSearchParams(form)
    })
    const text = await response.text()
    return {
      status: response.status,
      headers: response.headers,
      text,
      body: (text === "" ? {} : JSON.parse(text)) as Answer
    }
  })

/**
 * The token service over HTTP on a free loopback port, with `users` (alice by default), memory refresh families
 * and the given revocations; returns its issuer URL.
 */
export const serveTokens = (
  options: Omit<TokenService.Options, "issuer">,
  revocations: Layer.Layer<RevocationStore.RevocationStore>,
  users: ReadonlyArray<UserStore.Seed> = [alice()]
) =>
  Effect.gen(function*() {
    const port = yield* TestNet.freePort
    const issuer = `http://127.0.0.1:${port}`
    yield* Layer.build(
      HttpApiBuilder.serve().pipe(
        Layer.provide(TokenApi.layer),
        Layer.provide(TokenService.layer({ ...options, issuer })),
        Layer.provide(Layer.mergeAll(UserStore.layerMemory(users, cheap), RefreshStore.layerMemory, revocations)),
        Layer.provide(NodeHttpServer.layer(createServer, { host: "127.0.0.1", port }))
      )
    )
    return issuer
  })
