"""Why edgeshare does not build on tensorflow-model-optimization: run its three entry points on a
two-layer Keras 3 model and print what each does. Needs `pip install tensorflow-model-optimization`
(not a dependency of edgeshare).

    python -m edgeshare.benchmarks.check_tfmot
"""

from __future__ import annotations

import sys


def main() -> int:
    from edgeshare.accounting import quiet_tensorflow

    quiet_tensorflow()
    import keras

    try:
        import tensorflow_model_optimization as tfmot
    except ImportError:
        print("tensorflow-model-optimization is not installed: pip install tensorflow-model-optimization")
        return 2
    print(f"tensorflow-model-optimization {tfmot.__version__}, keras {keras.__version__}")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3)])
    cluster = tfmot.clustering.keras
    calls = {
        "quantize_model": lambda: tfmot.quantization.keras.quantize_model(model),
        "prune_low_magnitude": lambda: tfmot.sparsity.keras.prune_low_magnitude(model),
        "cluster_weights": lambda: cluster.cluster_weights(
            model, number_of_clusters=2, cluster_centroids_init=cluster.CentroidInitialization.LINEAR),
    }
    for name, call in calls.items():
        try:
            result = call()
            print(f"{name}: returned {type(result).__name__}")
        except Exception as exc:
            print(f"{name}: raised {type(exc).__name__}: {str(exc).splitlines()[0][:100]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
