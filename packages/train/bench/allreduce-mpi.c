/*
 * Open MPI's own all-reduce, without Node: the reference for the `mpi` rows of bench/allreduce.ts
 * (backend `mpi-c`). Usage under mpirun: allreduce-mpi MB REPEATS. Every rank fills MB megabytes
 * of float32 with rank + 1, runs one untimed MPI_Allreduce (MPI_IN_PLACE, MPI_SUM), then REPEATS
 * timed ones after a barrier each, checks the sums, and rank 0 prints one JSON line
 * {"mb": MB, "seconds": [...]}. Built by the bench with mpicc -O2 when mpicc is on the PATH.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (argc != 3) {
    if (rank == 0) fprintf(stderr, "usage: allreduce-mpi MB REPEATS\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const double mb = atof(argv[1]);
  const int repeats = atoi(argv[2]);
  const size_t n = (size_t)(mb * 1024 * 1024 / 4);
  float* data = malloc(n * sizeof(float));
  double* seconds = malloc((repeats > 0 ? repeats : 1) * sizeof(double));
  if (n == 0 || repeats < 1 || !data || !seconds) {
    if (rank == 0) fprintf(stderr, "allreduce-mpi: bad size %s or repeats %s\n", argv[1], argv[2]);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const float want = (float)size * (size + 1) / 2;
  for (size_t i = 0; i < n; i++) data[i] = (float)(rank + 1);
  MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD); /* warm-up */
  for (int k = 0; k < repeats; k++) {
    for (size_t i = 0; i < n; i++) data[i] = (float)(rank + 1);
    MPI_Barrier(MPI_COMM_WORLD);
    const double t0 = MPI_Wtime();
    MPI_Allreduce(MPI_IN_PLACE, data, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    seconds[k] = MPI_Wtime() - t0;
    if (data[0] != want || data[n - 1] != want) {
      fprintf(stderr, "allreduce-mpi: rank %d: wrong sum\n", rank);
      MPI_Abort(MPI_COMM_WORLD, 3);
    }
  }
  if (rank == 0) {
    printf("{\"mb\": %g, \"seconds\": [", mb);
    for (int k = 0; k < repeats; k++) printf("%s%.9f", k ? ", " : "", seconds[k]);
    printf("]}\n");
    fflush(stdout);
  }
  free(data);
  free(seconds);
  MPI_Finalize();
  return 0;
}
