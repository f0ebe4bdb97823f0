"""Where work runs: in this process, or partitioned over a Dask cluster (`[execution]`)."""
