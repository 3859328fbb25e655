# gen_cohorts.py N: two cohorts of N manifests each (JSON Lines on stdout) for the
# regress benchmark: a model update between them, 5,000 distinct questions, outputs that
# change for two thirds of the questions after the update, latencies 100-999 ms.
import json, sys, random
random.seed(7)
n=int(sys.argv[1])
w=sys.stdout.write
for c in (0,1):
    day='2026-01-10' if c==0 else '2026-02-10'
    for i in range(n):
        q=i%5000
        m={"conditions":{"model":{"name":"gpt-x","resolved":"gpt-x-2026-0%d"%(1 if c==0 else 6)},
          "params":{"temperature":0.2},"system":{"text":"Be brief."},
          "input":{"messages":[{"role":"user","content":"Question %d"%q}]}},
          "output":{"content":"Answer %d %d"%(q, (i//5000)%3 if c else 0),"finish_reason":"stop"},
          "meta":{"start":"%sT%02d:%02d:%02d.000Z"%(day,(i//3600)%24,(i//60)%60,i%60),"end":"%sT%02d:%02d:%02d.%03dZ"%(day,(i//3600)%24,(i//60)%60,i%60,random.randint(100,999)),"status":200,"i":i}}
        w(json.dumps(m,separators=(',',':'))+"\n")
