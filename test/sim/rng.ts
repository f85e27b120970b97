/**
 * The simulator's seeded PRNG lives in common/seeded-rng.ts (the nemesis of deploy/nemesis/
 * draws its fault schedule from it too); re-exported here for the simulator's modules.
 */
export { SimRng, splitmix32 } from "../../common/seeded-rng";
