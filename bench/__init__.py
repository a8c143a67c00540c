"""`make bench`: end-to-end throughput, latency and timer scale on the real broker and store,
side by side with the raw limits of this machine, in one run. Reports; never fails CI."""
