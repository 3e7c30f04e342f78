package dev.edgeshare.demo

import android.content.res.AssetManager
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.gpu.CompatibilityList
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel

/** The delegates the demo offers; the same names as `edgeshare bench --delegate`. */
enum class DelegateChoice { CPU, GPU, NNAPI }

/** Latency of N runs of one model with one delegate, in milliseconds. */
data class BenchmarkResult(
    val model: String,
    val delegate: DelegateChoice,
    val initMs: Double,
    val firstMs: Double,
    val latenciesMs: List<Double>,
) {
    private val sorted = latenciesMs.sorted()
    val meanMs: Double get() = latenciesMs.average()
    val minMs: Double get() = sorted.first()
    val maxMs: Double get() = sorted.last()

    /** Linear-interpolated percentile, as edgeshare's host runner computes it. */
    fun percentile(q: Double): Double {
        val pos = (sorted.size - 1) * q / 100.0
        val lo = pos.toInt()
        val hi = minOf(lo + 1, sorted.size - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
    }

    fun describe(): String = buildString {
        appendLine("$model on ${delegate.name}, ${latenciesMs.size} runs")
        appendLine("init     %9.3f ms".format(initMs))
        appendLine("first    %9.3f ms".format(firstMs))
        appendLine("p50      %9.3f ms".format(percentile(50.0)))
        appendLine("p90      %9.3f ms".format(percentile(90.0)))
        appendLine("mean     %9.3f ms".format(meanMs))
        appendLine("min/max  %9.3f / %.3f ms".format(minMs, maxMs))
    }
}

/** Loads a .tflite from the app's assets and times `Interpreter.run` with a chosen delegate. */
class ModelBenchmark(private val assets: AssetManager) {

    fun models(): List<String> = assets.list("")?.filter { it.endsWith(".tflite") }?.sorted() ?: emptyList()

    private fun mapAsset(name: String): MappedByteBuffer =
        assets.openFd(name).use { fd ->
            FileInputStream(fd.fileDescriptor).channel.use { ch ->
                ch.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
            }
        }

    /** Runs [warmup] untimed then [runs] timed inferences on zero-filled inputs. */
    fun run(model: String, choice: DelegateChoice, runs: Int, warmup: Int = 5): BenchmarkResult {
        require(runs >= 1) { "runs must be at least 1. Received: runs=$runs" }
        val options = Interpreter.Options()
        var delegate: Delegate? = null
        when (choice) {
            DelegateChoice.CPU -> options.setNumThreads(Runtime.getRuntime().availableProcessors().coerceAtMost(4))
            DelegateChoice.GPU -> {
                val compat = CompatibilityList()
                check(compat.isDelegateSupportedOnThisDevice) { "the GPU delegate is not supported on this device" }
                delegate = GpuDelegate(compat.bestOptionsForThisDevice)
            }
            DelegateChoice.NNAPI -> delegate = NnApiDelegate()
        }
        delegate?.let { options.addDelegate(it) }
        try {
            val t0 = System.nanoTime()
            val interpreter = Interpreter(mapAsset(model), options)
            val initMs = (System.nanoTime() - t0) / 1e6
            interpreter.use { interp ->
                val inputs: Array<Any> = Array(interp.inputTensorCount) { i ->
                    ByteBuffer.allocateDirect(interp.getInputTensor(i).numBytes()).order(ByteOrder.nativeOrder())
                }
                val outputs = HashMap<Int, Any>()
                for (i in 0 until interp.outputTensorCount) {
                    outputs[i] = ByteBuffer.allocateDirect(interp.getOutputTensor(i).numBytes())
                        .order(ByteOrder.nativeOrder())
                }
                fun once(): Double {
                    for (b in inputs) (b as ByteBuffer).rewind()
                    for (b in outputs.values) (b as ByteBuffer).rewind()
                    val s = System.nanoTime()
                    interp.runForMultipleInputsOutputs(inputs, outputs)
                    return (System.nanoTime() - s) / 1e6
                }
                val firstMs = once()
                repeat(warmup) { once() }
                val latencies = List(runs) { once() }
                return BenchmarkResult(model, choice, initMs, firstMs, latencies)
            }
        } finally {
            (delegate as? AutoCloseable)?.close()
        }
    }
}
