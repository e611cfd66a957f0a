/** A stand-in for a tfjs-node whose native binding fails to load. */
throw new Error("libtensorflow.so.2: cannot open shared object file (stand-in)");
