"""How a mixture-of-softmaxes HyMiRec's interests combine (README here: "A mixture of softmaxes").

usage (from the mixture branch's checkout, ``mixture_of_softmaxes.patch``): python
mixture_of_softmaxes_components.py WORKSPACE MODEL [valid|test]. NDCG@10 of the mixture (what the model
ranks by), of the max of the weighted components' log-probabilities, of the raw max, of an unweighted
mixture and of each component alone; the gate's mean weights; which component explains each target best;
the mean cosine between a user's interests.
"""
import sys, json
import numpy as np, torch
from hymirec.evaluation import mask_histories, target_ranks
import workspace_model

name, view, model = workspace_model.from_arguments(sys.argv)
with torch.no_grad():
    items = model.item_vectors()
    I, G = [], []
    for s in range(0, len(view.histories), 256):
        I.append(model.interests(view.histories[s:s+256], items)); G.append(model.last_gate_logits[:, 0])
    interests, gates = torch.cat(I), torch.cat(G)
    tau = float(model.temperature())
    logits = torch.einsum("ukd,id->uki", interests, items) / tau
    logp = logits - logits.logsumexp(-1, keepdim=True)  # [U K I] each component's log-softmax
    logw = torch.log_softmax(gates, -1)
    mixture = (logp + logw[..., None]).logsumexp(1).numpy()
U, K, N = logits.shape
def ndcg(scores):
    r = target_ranks(mask_histories(scores.copy(), view.histories), view.targets)
    return round(float(np.where(r <= 10, 1/np.log2(r+1), 0).mean()), 4)
out = {"tau": tau, "mixture": ndcg(mixture), "max_raw": ndcg(logits.amax(1).numpy()),
       "max_normalised_weighted": ndcg((logp + logw[..., None]).amax(1).numpy()),
       "uniform_mixture": ndcg(logp.logsumexp(1).numpy())}
for k in range(K):
    out[f"component_{k}"] = ndcg(logp[:, k].numpy())
w = logw.exp().numpy()
out["mean_weight"] = w.mean(0).round(3).tolist()
out["weight_entropy_mean"] = round(float(-(w * np.log(w + 1e-12)).sum(1).mean()), 3)
out["argmax_weight_share"] = np.bincount(w.argmax(1), minlength=K).tolist()
resp = (logp[np.arange(U), :, view.targets] + logw).argmax(1).numpy()
out["target_responsible_share"] = np.bincount(resp, minlength=K).tolist()
cos = torch.einsum("ukd,ujd->ukj", interests, interests).numpy()
out["mean_pairwise_interest_cos"] = round(float((cos.sum((1,2)) - K).mean() / (K*(K-1))), 3)
print(json.dumps(out, indent=1))
