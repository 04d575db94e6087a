import { defineConfig } from "vitest/config"

/** Settings every vitest project shares: resolve workspace packages to their sources. */
export const shared = defineConfig({
  resolve: { conditions: ["@warden/source"] },
  ssr: { resolve: { conditions: ["@warden/source"] } },
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000
  }
})
