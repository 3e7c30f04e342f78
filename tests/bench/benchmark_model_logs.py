# ruff: noqa: E501 (log lines are kept whole, as the tool prints them)
"""benchmark_model output in its documented format (tensorflow/lite/tools/benchmark/README.md and the
log lines of benchmark_model.cc / benchmark_tflite_model.cc), for the parser tests and for the stand-in
binary that plays the phone in the adb tests. Numbers are made up; the line formats are the tool's."""

XNNPACK_PROFILED = """\
INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Min num runs: [50]
INFO: Num threads: [4]
INFO: Graph: [/data/local/tmp/edgeshare-1a2b3c4d/tied_lm_int8.tflite]
INFO: Enable op profiling: [1]
INFO: #threads used for CPU inference: [4]
INFO: Use xnnpack: [1]
INFO: Loaded model /data/local/tmp/edgeshare-1a2b3c4d/tied_lm_int8.tflite
INFO: Created TensorFlow Lite XNNPACK delegate for CPU.
INFO: XNNPACK delegate created.
VERBOSE: Replacing 12 out of 14 node(s) with delegate (TfLiteXNNPackDelegate) node, yielding 2 partitions for the whole graph.
INFO: Explicitly applied XNNPACK delegate, and the model graph will be partially executed by the delegate w/ 2 delegate kernels.
INFO: The input model file size (MB): 1.23456
INFO: Initialized session in 18.777ms.
INFO: Running benchmark for at least 5 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=9 first=64791 curr=56295 min=54873 max=65831 avg=57758.2 std=4065 p5=54873 median=56295 p95=65831

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=58154 curr=53809 min=53077 max=60727 avg=55043.2 std=1562 p5=53301 median=54890 p95=58544

INFO: Inference timings in us: Init: 18777, First inference: 64791, Warmup (avg): 57758.2, Inference (avg): 55043.2
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=8.97656 overall=18.7227
INFO: Overall peak memory footprint (MB) via periodic monitoring: 25.0508
INFO: Profiling Info for Benchmark Initialization:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t ModifyGraphWithDelegate\t            0.000\t    6.348\t    6.348\t 55.640%\t 55.640%\t  7148.000\t        1\tModifyGraphWithDelegate/0
\t         AllocateTensors\t            6.349\t    5.061\t    5.061\t 44.360%\t100.000%\t 10292.000\t        1\tAllocateTensors/0

Timings (microseconds): count=1 curr=11409
Memory (bytes): count=0
2 nodes observed

INFO: Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t   TfLiteXNNPackDelegate\t            0.000\t   41.203\t   40.117\t 72.890%\t 72.890%\t     0.000\t        1\t[tied_lm/embedding/Gather, tied_lm/block_0/dense/MatMul]:12
\t                  GATHER\t           40.118\t    0.312\t    0.301\t  0.547%\t 73.437%\t     0.000\t        1\t[tied_lm/embedding/lookup]:0
\t   TfLiteXNNPackDelegate\t           40.420\t   14.870\t   14.622\t 26.563%\t100.000%\t     0.000\t        1\t[tied_lm/head/MatMul;tied_lm/head/BiasAdd]:13

============================== Top by Computation Time ==============================
\t             [node type]\t          [start]\t  [first]\t [avg ms]\t     [%]\t  [cdf%]\t  [mem KB]\t[times called]\t[Name]
\t   TfLiteXNNPackDelegate\t            0.000\t   41.203\t   40.117\t 72.890%\t 72.890%\t     0.000\t        1\t[tied_lm/embedding/Gather, tied_lm/block_0/dense/MatMul]:12
\t   TfLiteXNNPackDelegate\t           40.420\t   14.870\t   14.622\t 26.563%\t 99.453%\t     0.000\t        1\t[tied_lm/head/MatMul;tied_lm/head/BiasAdd]:13
\t                  GATHER\t           40.118\t    0.312\t    0.301\t  0.547%\t100.000%\t     0.000\t        1\t[tied_lm/embedding/lookup]:0

Number of nodes executed: 3
============================== Summary by node type ==============================
\t             [Node type]\t  [count]\t  [avg ms]\t    [avg %]\t    [cdf %]\t  [mem KB]\t[times called]
\t   TfLiteXNNPackDelegate\t        2\t    54.739\t    99.453%\t    99.453%\t     0.000\t        2
\t                  GATHER\t        1\t     0.301\t     0.547%\t   100.000%\t     0.000\t        1

Timings (microseconds): count=50 first=56385 curr=55041 min=53077 max=60727 avg=55043.2 std=1562
Memory (bytes): count=0
3 nodes observed
"""

GPU_FULL = """\
INFO: STARTING!
INFO: Graph: [/data/local/tmp/edgeshare-1a2b3c4d/shared_cnn_none.tflite]
INFO: Use gpu: [1]
INFO: Loaded model /data/local/tmp/edgeshare-1a2b3c4d/shared_cnn_none.tflite
INFO: Initialized TensorFlow Lite runtime.
INFO: Created TensorFlow Lite delegate for GPU.
INFO: GPU delegate created.
VERBOSE: Replacing 58 out of 58 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 1 partitions for the whole graph.
INFO: Initialized OpenCL-based API.
INFO: Created 1 GPU delegate kernels.
INFO: Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.
INFO: The input model file size (MB): 7.07479
INFO: Initialized session in 842.225ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=13 first=115098 curr=36666 min=32079 max=115098 avg=40199.8 std=21694

INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=1694 first=35688 curr=33419 min=30394 max=42335 avg=35134.9 std=1733

INFO: Inference timings in us: Init: 842225, First inference: 115098, Warmup (avg): 40199.8, Inference (avg): 35134.9
INFO: Note: as the benchmark tool itself affects memory footprint, the following is only APPROXIMATE to the actual memory footprint of the model at runtime. Take the information at your discretion.
INFO: Memory footprint delta from the start of the tool (MB): init=60.1211 overall=74.6641
"""

GPU_PARTIAL = """\
INFO: Created TensorFlow Lite delegate for GPU.
ERROR: Following operations are not supported by GPU delegate:
ERROR: UNPACK: Operation is not supported.
ERROR: GATHER: Operation is not supported.
ERROR: 27 operations will run on the GPU, and the remaining 3 on the CPU.
VERBOSE: Replacing 27 out of 30 node(s) with delegate (TfLiteGpuDelegateV2) node, yielding 2 partitions for the whole graph.
INFO: Explicitly applied GPU delegate, and the model graph will be partially executed by the delegate w/ 2 delegate kernels.
INFO: Initialized session in 512.5ms.
INFO: Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
INFO: count=20 first=30000 curr=25000 min=24000 max=30000 avg=25500 std=900
INFO: Running benchmark for at least 50 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
INFO: count=50 first=25100 curr=24900 min=24500 max=26000 avg=25012.5 std=300
INFO: Inference timings in us: Init: 512500, First inference: 30000, Warmup (avg): 25500, Inference (avg): 25012.5
"""

NNAPI_NOT_APPLIED = """\
INFO: Use NNAPI: [1]
INFO: NNAPI accelerators available: [qti-default,nnapi-reference]
INFO: Created TensorFlow Lite delegate for NNAPI.
INFO: NNAPI delegate created.
INFO: Though NNAPI delegate is explicitly applied, the model graph will not be executed by the delegate.
INFO: Initialized session in 3.3ms.
INFO: count=5 first=118829 curr=105453 min=102652 max=118829 avg=107354 std=5819
INFO: count=100 first=102919 curr=102428 min=101417 max=109982 avg=104036 std=1565
INFO: Inference timings in us: Init: 3330, First inference: 118829, Warmup (avg): 107354, Inference (avg): 104036
"""

GPU_FAILED = """\
INFO: STARTING!
INFO: Use gpu: [1]
INFO: Loaded model /data/local/tmp/edgeshare-1a2b3c4d/tied_lm_int8.tflite
INFO: Created TensorFlow Lite delegate for GPU.
ERROR: Following operations are not supported by GPU delegate:
ERROR: GATHER: Operation is not supported.
ERROR: DEQUANTIZE: OP is supported, but tensor type isn't matched!
ERROR: 0 operations will run on the GPU, and the remaining 14 on the CPU.
ERROR: TfLiteGpuDelegate Init: Batch size mismatch, expected 1 but got 64
ERROR: Failed to apply GPU delegate.
ERROR: Benchmarking failed.
"""

UNSUPPORTED_OP = """\
INFO: STARTING!
INFO: Log parameter values verbosely: [0]
INFO: Graph: [/data/local/tmp/edgeshare-1a2b3c4d/tied_lm_none.tflite]
INFO: Loaded model /data/local/tmp/edgeshare-1a2b3c4d/tied_lm_none.tflite
ERROR: Didn't find op for builtin opcode 'GELU' version '2'. An older version of this builtin might be supported. Are you using an old TFLite binary with a newer model?

ERROR: Registration failed.

Failed to initialize the interpreter
Benchmarking failed.
"""

CUSTOM_OP = """\
INFO: Loaded model /data/local/tmp/edgeshare-1a2b3c4d/m.tflite
ERROR: Encountered unresolved custom op: SharedBank.
See instructions: https://www.tensorflow.org/lite/guide/ops_custom
ERROR: Node number 3 (SharedBank) failed to prepare.
ERROR: Failed to allocate tensors!
ERROR: Benchmarking failed.
"""

OLD_FORMAT = """\
Initialized session in 0.896ms
Running benchmark for at least 1 iterations and at least 0.5 seconds but terminate if exceeding 150 seconds.
count=215 first=12231 curr=2106 min=2065 max=12231 avg=2331.42 std=746

Running benchmark for at least 100 iterations and at least 1 seconds but terminate if exceeding 150 seconds.
count=459 first=2143 curr=2101 min=2056 max=2656 avg=2177.1 std=124

Average inference timings in us: Warmup: 2331.42, Init: 896, no stats: 2177.1
"""

GPU_PROFILED_NEW_COLUMNS = """\
INFO: Explicitly applied GPU delegate, and the model graph will be completely executed by the delegate.
INFO: count=3 first=1000 curr=900 min=900 max=1000 avg=950 std=50
INFO: count=50 first=800 curr=790 min=780 max=820 avg=795.5 std=9 p5=781 median=794 p95=815
INFO: Inference timings in us: Init: 250000, First inference: 1000, Warmup (avg): 950, Inference (avg): 795.5
INFO: Operator-wise Profiling Info for Regular Benchmark Runs:
============================== Run Order ==============================
                                     [node type]          [first]        [avg ms]            [%]          [cdf%]          [mem KB]        [times called]  [Name]
                             TfLiteGpuDelegateV2            0.801           0.790        99.370%         99.370%             0.000                1       [shared cnn/conv  block/Relu6]:31
                                        QUANTIZE            0.005           0.005         0.630%        100.000%             0.000                1       [tfl.quantize]:0
"""
