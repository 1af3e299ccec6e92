import type { dynamic } from "@pulumi/pulumi";
import { networkVolumeFields, networkVolumeSpecSchema } from "../server/resources/schemas";
import { adminApi, STATE_KEYS } from "./admin-api";
import { changedKeys, containsUnknown, liveInputs, pick, validate } from "./inputs";

export const VOLUME_KEYS = Object.keys(networkVolumeFields.shape);

/** NetworkVolume: grows in place, never shrinks (refused at preview), moves to another data centre by replacement. */
export const networkVolumeProvider: dynamic.ResourceProvider = {
  async check(olds, news) {
    const failures = validate(networkVolumeSpecSchema, pick(news, VOLUME_KEYS));
    const before = olds.size;
    if (typeof before === "number" && typeof news.size === "number" && !containsUnknown(news.size) && news.size < before) {
      failures.push({ property: "size", reason: `size: a network volume may only grow (from ${before} GB to ${news.size} GB)` });
    }
    return { inputs: news, failures };
  },

  async diff(_id, olds, news) {
    const changed = changedKeys(olds, news, VOLUME_KEYS);
    return { changes: changed.length > 0, replaces: changed.includes("dataCenterId") ? ["dataCenterId"] : [], deleteBeforeReplace: false };
  },

  async create(inputs) {
    const created = await adminApi(inputs).create<{ id: string }>("/network-volumes", pick(inputs, VOLUME_KEYS));
    return { id: created.id, outs: inputs };
  },

  async read(id, props) {
    const view = await adminApi(props).get<Record<string, unknown>>(`/network-volumes/${id}`);
    if (!view) return { id: "", props: {} };
    const live = { ...pick(props, STATE_KEYS), ...liveInputs(view, props, VOLUME_KEYS, {}) };
    return { id, props: live, inputs: live };
  },

  async update(id, _olds, news) {
    await adminApi(news).replace(`/network-volumes/${id}`, pick(news, VOLUME_KEYS));
    return { outs: news };
  },

  async delete(id, props) {
    await adminApi(props).remove(`/network-volumes/${id}`);
  },
};
