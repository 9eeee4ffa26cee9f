// The column split of the dispatch and combine stages: a route tile's rows are cut into `parts` column
// ranges of 16-byte vectors, one task each.
#pragma once

namespace onemoe::device {

struct ColumnPart {
  int v0;    // first 16-byte vector of the part
  int vecs;  // vectors in the part (0 for a part past the row's end)
};

__device__ inline ColumnPart column_part(int row_vecs, int parts, int part) {
  const int part_vecs = (row_vecs + parts - 1) / parts;
  const int v0 = part * part_vecs;
  return {v0, max(0, min(row_vecs, v0 + part_vecs) - v0)};
}

}  // namespace onemoe::device
