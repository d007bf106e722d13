import time, sys, numpy as np, faiss
faiss.omp_set_num_threads(1)
N, D, C = int(sys.argv[1]), 64, 3000
rng = np.random.default_rng(0)
centres = rng.standard_normal((C, D)).astype(np.float32); centres /= np.linalg.norm(centres, axis=1, keepdims=True)
weights = rng.lognormal(0, 1, C); weights /= weights.sum()
cl = rng.choice(C, N, p=weights)
x = centres[cl] + 0.6 * rng.standard_normal((N, D)).astype(np.float32) / np.sqrt(D)
x /= np.linalg.norm(x, axis=1, keepdims=True)
anchors = rng.integers(0, N, 8000)
q = x[anchors] + 0.4 * rng.standard_normal((8000, D)).astype(np.float32) / np.sqrt(D)
q /= np.linalg.norm(q, axis=1, keepdims=True)
q = np.ascontiguousarray(q, dtype=np.float32)
print("cos item-centre", float((x[:1000] * centres[cl[:1000]]).sum(1).mean()), "cos q-anchor", float((q[:1000]*x[anchors[:1000]]).sum(1).mean()))
t=time.perf_counter(); flat=faiss.IndexFlatIP(D); flat.add(x); _, I = flat.search(q, 60); print("exact", time.perf_counter()-t, flush=True)
for nlist, mpc in [(4000, 64)]:
    t=time.perf_counter(); ivf=faiss.IndexIVFFlat(faiss.IndexFlatIP(D), D, nlist, faiss.METRIC_INNER_PRODUCT); ivf.cp.max_points_per_centroid=mpc
    ivf.train(x); tt=time.perf_counter()-t; ivf.add(x); print("ivf", nlist, "train", tt, "build", time.perf_counter()-t, flush=True)
    for nprobe in [4, 8, 16, 32]:
        ivf.nprobe=nprobe; t=time.perf_counter(); _, J = ivf.search(q, 60); s=time.perf_counter()-t
        rec = np.mean([len(set(I[i,:10]) & set(J[i,:10]))/10 for i in range(len(q))])
        print(f"  nprobe {nprobe} {s:.2f}s recall10 {rec:.4f}", flush=True)
if len(sys.argv) > 2:
    t=time.perf_counter(); h=faiss.IndexHNSWFlat(D, 32, faiss.METRIC_INNER_PRODUCT); h.add(x); print("hnsw build", time.perf_counter()-t, flush=True)
    for ef in [32, 64, 128]:
        h.hnsw.efSearch=ef; t=time.perf_counter(); _, J = h.search(q, 60); s=time.perf_counter()-t
        rec = np.mean([len(set(I[i,:10]) & set(J[i,:10]))/10 for i in range(len(q))])
        print(f"  ef {ef} {s:.2f}s recall10 {rec:.4f}", flush=True)
