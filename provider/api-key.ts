import type { dynamic } from "@pulumi/pulumi";
import { createKeyBodySchema } from "../server/resources/key-schemas";
import { adminApi, STATE_KEYS } from "./admin-api";
import { changedKeys, pick, validate } from "./inputs";

const KEY_KEYS = Object.keys(createKeyBodySchema.shape);

interface CreatedKey {
  id: string;
  key: string;
}

/**
 * ApiKey: made by the admin API, its secret in the outputs (a Pulumi secret: sdk/resources.ts). A key never changes:
 * any change of its inputs makes a new key before the old one is revoked, so a program that hands the key on
 * (a Kubernetes Secret, an app's config) rotates it in one `pulumi up`. Refresh finds a revoked key gone.
 */
export const apiKeyProvider: dynamic.ResourceProvider = {
  async check(_olds, news) {
    return { inputs: news, failures: validate(createKeyBodySchema, pick(news, KEY_KEYS)) };
  },

  async diff(_id, olds, news) {
    const changed = changedKeys(olds, news, KEY_KEYS);
    return { changes: changed.length > 0, replaces: changed, deleteBeforeReplace: false };
  },

  async create(inputs) {
    const created = await adminApi(inputs).create<CreatedKey>("/keys", pick(inputs, KEY_KEYS));
    return { id: created.id, outs: { ...inputs, keyId: created.id, key: created.key } };
  },

  async read(id, props) {
    const view = await adminApi(props).get<{ status: string }>(`/keys/${id}`);
    if (!view || view.status === "revoked") return { id: "", props: {} };
    return { id, props: { ...pick(props, [...STATE_KEYS, "keyId", "key"]), ...pick(props, KEY_KEYS) } };
  },

  async delete(id, props) {
    await adminApi(props).remove(`/keys/${id}`);
  },
};
