/** Test helper: a whole snapshot restore from a source into a state machine. */
import type { Term } from "../../common/ids";
import type { SnapshotSource, StateMachine } from "../../raft/state-machine";

/** Streams `src` into `sm` (every chunk, then finish) and closes `src`. */
export async function restoreInto(sm: Pick<StateMachine, "restore">, src: SnapshotSource): Promise<void> {
  const sink = sm.restore({ index: src.index, term: 1 as Term, voters: [] });
  for (let n = 0; ; n++) {
    const c = await src.readChunk(n);
    await sink.write(n, c.data);
    if (c.last) break;
  }
  await sink.finish();
  src.close();
}
