/**
 * What an arbitrary of tokens generates: not a token but a recipe for one,
 * claims and what to do to them once signed.
 *
 * Signing is asynchronous (WebCrypto, through jose), needs the provider's key
 * and must read the same `Clock` as the verifier, so it cannot happen inside
 * a fast-check generator. A recipe is plain data instead: fast-check shrinks
 * it and prints it in a counterexample, and `bake` turns it into a token
 * inside the test's Effect, with the `TestIdentityProvider`.
 *
 * ```ts
 * it.effect.prop("...", [Arbitraries.hostileToken()], ([recipe]) =>
 *   Effect.gen(function*() {
 *     const { token, valid } = yield* TokenRecipe.bake(recipe)
 *     ...
 *   }))
 * ```
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import type * as ClaimSet from "./ClaimSet.js"
import * as Mutation from "./Mutation.js"
import { TestIdentityProvider } from "./TestIdentityProvider.js"

/** Claims to sign, and what to do to the signed token, if anything. */
export interface TokenRecipe<M extends Mutation.Mutation = Mutation.Mutation> {
  readonly claims: ClaimSet.ClaimSet
  readonly mutation?: M
}

/** A baked recipe: the token as signed, and the token after the mutation (the same string without one). */
export interface Baked {
  readonly valid: string
  readonly token: string
}

/** Signs the recipe's claims with the provider's current key, then applies its mutation. */
export const bake = (recipe: TokenRecipe): Effect.Effect<Baked, never, TestIdentityProvider> =>
  Effect.gen(function*() {
    const provider = yield* TestIdentityProvider
    const valid = yield* provider.sign(recipe.claims)
    const token = recipe.mutation === undefined ? valid : yield* Mutation.apply(valid, recipe.mutation)
    return { valid, token }
  })
