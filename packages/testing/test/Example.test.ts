/**
 * The worked example of the README: a property test of an application's own
 * handler, with the kit. The README shows this file from its first import on
 * (`Readme.test.ts` checks it).
 */
import * as Rpc from "@effect/rpc/Rpc"
import * as RpcGroup from "@effect/rpc/RpcGroup"
import { expect, layer } from "@effect/vitest"
import { CurrentTenant, Policy } from "@warden/core"
import { Protected } from "@warden/rpc"
import { Arbitraries, TestIdentityProvider, TestRpc } from "@warden/testing"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FastCheck from "effect/FastCheck"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"

// The application under test: notes, kept per tenant.
const Notes = Protected.group(
  RpcGroup.make(
    Rpc.make("AddNote", { payload: { text: Schema.String }, success: Schema.Number }),
    Rpc.make("ListNotes", { success: Schema.Array(Schema.String) })
  ),
  { AddNote: Policy.scope("notes.write"), ListNotes: Policy.scope("notes.read") }
)

const NotesHandlers = Protected.toLayer(
  Notes,
  Effect.sync(() => {
    const notes = new Map<string, Array<string>>()
    return {
      AddNote: ({ text }) =>
        Effect.map(CurrentTenant, (tenant) => {
          const list = notes.get(tenant) ?? []
          notes.set(tenant, [...list, text])
          return list.length + 1
        }),
      ListNotes: () => Effect.map(CurrentTenant, (tenant) => notes.get(tenant) ?? [])
    }
  })
)

// The test: a provider on loopback, Warden's middlewares verifying its tokens, once for the whole file.
const Kit = TestRpc.layerServer().pipe(Layer.provideMerge(TestIdentityProvider.layer()))

// Callers from two tenants, each with some of the application's scopes.
const caller = Arbitraries.user({
  tenant: FastCheck.constantFrom("acme", "globex"),
  otherTenants: FastCheck.constant([]),
  scopes: Arbitraries.scopes({ from: ["notes.read", "notes.write"] })
})

layer(Kit)("notes", (it) => {
  it.effect.prop(
    "a note lands in its writer's tenant only, and only with notes.write",
    [FastCheck.array(FastCheck.tuple(caller, FastCheck.string()), { maxLength: 8 })],
    ([writes]) =>
      Effect.gen(function*() {
        const client = yield* TestRpc.inMemory(Notes)
        const expected = new Map<string, Array<string>>()
        for (const [user, text] of writes) {
          const added = yield* Effect.exit(client.AddNote({ text }).pipe(TestRpc.as(user)))
          if (user.scopes.has("notes.write")) {
            const list = [...(expected.get(user.tenant) ?? []), text]
            expected.set(user.tenant, list)
            expect(added).toEqual(Exit.succeed(list.length))
          } else {
            expect(added).toMatchObject(Exit.fail({ _tag: "Forbidden", reason: "missing_scope" }))
          }
        }
        for (const [user] of writes.filter(([u]) => u.scopes.has("notes.read"))) {
          expect(yield* client.ListNotes().pipe(TestRpc.as(user))).toEqual(expected.get(user.tenant) ?? [])
        }
      }).pipe(Effect.scoped, Effect.provide(NotesHandlers)), // fresh notes for every run
    { fastCheck: { numRuns: 200 } }
  )
})
