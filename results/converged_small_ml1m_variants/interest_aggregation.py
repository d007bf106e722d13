"""How the K interests of a converged HyMiRec combine at serving (README, "Method": serving-score loss).

usage (from main's checkout): python interest_aggregation.py WORKSPACE MODEL [valid|test]
Per split: NDCG@10 of the max over interests (what serving ranks by), of the mean, of a soft max
t·logsumexp(s/t), of each interest alone, and of an oracle that takes each user's best single interest;
how many targets and top-10 items each interest wins the max for; the mean cosine between a user's interests.
"""
import sys, json
import numpy as np, torch
from hymirec.evaluation import mask_histories, target_ranks
import workspace_model

name, view, model = workspace_model.from_arguments(sys.argv)
with torch.no_grad():
    items = model.item_vectors()
    I = []
    for s in range(0, len(view.histories), 256):
        I.append(model.interests(view.histories[s:s+256], items))
    interests = torch.cat(I)  # [U K d]
    per = torch.einsum("ukd,id->uki", interests, items).numpy()  # [U K I]
tau = float(model.temperature().detach())
U, K, N = per.shape
def ndcg(scores):
    s = mask_histories(scores.copy(), view.histories)
    r = target_ranks(s, view.targets)
    return float(np.where(r <= 10, 1/np.log2(r+1), 0).mean()), r
out = {"tau": tau}
out["max"], rmax = ndcg(per.max(1))
out["mean"], _ = ndcg(per.mean(1))
for t in [0.01, 0.03, 0.1]:
    out[f"lse_{t}"], _ = ndcg(t*np.log(np.exp((per - per.max(1, keepdims=True))/t).sum(1)) + per.max(1))
ranks_k = []
for k in range(K):
    v, r = ndcg(per[:, k]); out[f"interest_{k}"] = v; ranks_k.append(r)
best = np.min(np.stack(ranks_k), 0)
out["oracle_best_interest"] = float(np.where(best <= 10, 1/np.log2(best+1), 0).mean())
masked = mask_histories(per.max(1).copy(), view.histories)
winner_target = per[np.arange(U), :, view.targets].argmax(1)
out["target_winner_share"] = np.bincount(winner_target, minlength=K).tolist()
top = np.argsort(-masked, 1)[:, :10]
win_top = np.take_along_axis(per, top[:, None, :].repeat(K, 1), 2).argmax(1)
out["top10_winner_share"] = np.bincount(win_top.ravel(), minlength=K).tolist()
cos = torch.einsum("ukd,ujd->ukj", interests, interests).numpy()
out["mean_pairwise_interest_cos"] = float((cos.sum((1,2)) - K).mean() / (K*(K-1))) if K > 1 else None
print(json.dumps(out, indent=1))
