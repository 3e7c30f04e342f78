package dev.edgeshare.demo

import android.content.Context
import com.google.ai.edge.litert.Accelerator
import com.google.ai.edge.litert.CompiledModel
import com.google.ai.edge.litert.TensorBuffer
import org.json.JSONObject
import java.io.File

/** The accelerators the demo offers: LiteRT's CompiledModel API names. GPU and NPU keep the CPU as fallback. */
enum class AcceleratorChoice(val accelerators: Array<Accelerator>) {
    CPU(arrayOf(Accelerator.CPU)),
    GPU(arrayOf(Accelerator.GPU, Accelerator.CPU)),
    NPU(arrayOf(Accelerator.NPU, Accelerator.CPU)),
}

/** This process's resident memory from /proc/self/status, in KiB: the same fields `edgeshare bench` reads. */
data class Rss(val totalKb: Long, val anonKb: Long, val fileKb: Long) {
    operator fun minus(o: Rss) = Rss(totalKb - o.totalKb, anonKb - o.anonKb, fileKb - o.fileKb)

    companion object {
        fun now(): Rss {
            val f = HashMap<String, Long>()
            File("/proc/self/status").forEachLine { line ->
                val key = line.substringBefore(':')
                if (key == "VmRSS" || key == "RssAnon" || key == "RssFile") {
                    f[key] = line.substringAfter(':').trim().split(Regex("\\s+"))[0].toLong()
                }
            }
            return Rss(f["VmRSS"] ?: 0, f["RssAnon"] ?: 0, f["RssFile"] ?: 0)
        }
    }
}

/** Load time, latency and RAM of N runs of one model on one accelerator. */
data class BenchmarkResult(
    val model: String,
    val accelerator: AcceleratorChoice,
    val cacheFile: File,
    val cacheWasThere: Boolean,
    val fileBytes: Long,
    val initMs: Double,
    val firstMs: Double,
    val latenciesMs: List<Double>,
    val ram: Rss,
    val inputsNote: String,
) {
    private val sorted = latenciesMs.sorted()

    /** Linear-interpolated percentile, as edgeshare's host runner computes it. */
    fun percentile(q: Double): Double {
        val pos = (sorted.size - 1) * q / 100.0
        val lo = pos.toInt()
        val hi = minOf(lo + 1, sorted.size - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
    }

    fun describe(): String = buildString {
        val mib = 1024.0
        appendLine("$model on ${accelerator.name}, ${latenciesMs.size} runs")
        appendLine(if (cacheWasThere) "weight cache: mapped (a later launch)" else "weight cache: built (first launch)")
        appendLine("  ${cacheFile.name}: ${cacheFile.length() / 1024} KiB")
        appendLine("load     %9.3f ms".format(initMs))
        appendLine("first    %9.3f ms".format(firstMs))
        appendLine("p50      %9.3f ms".format(percentile(50.0)))
        appendLine("p90      %9.3f ms".format(percentile(90.0)))
        appendLine("mean     %9.3f ms".format(latenciesMs.average()))
        appendLine("RAM      %9.1f MiB after load and first run".format(ram.totalKb / mib))
        appendLine("  anon %.1f MiB, file-backed %.1f MiB (mapped model and cache)".format(ram.anonKb / mib, ram.fileKb / mib))
        appendLine("  %.2fx the model file (%.1f MiB)".format(ram.totalKb * 1024.0 / fileBytes, fileBytes / mib / mib))
        appendLine(inputsNote)
    }
}

/**
 * Loads a .tflite from the app's assets with LiteRT's CompiledModel API and XNNPACK's weight cache (one file per
 * model in the app's cache folder: the first launch packs each weight buffer once into it, later launches map it),
 * and times `run` on the chosen accelerator.
 */
class ModelBenchmark(private val context: Context) {

    fun models(): List<String> = context.assets.list("")?.filter { it.endsWith(".tflite") }?.sorted() ?: emptyList()

    /** Runs [warmup] untimed then [runs] timed inferences; inputs are zeros (ids 0, which every table has). */
    fun run(model: String, choice: AcceleratorChoice, runs: Int, warmup: Int = 5): BenchmarkResult {
        require(runs >= 1) { "runs must be at least 1. Received: runs=$runs" }
        // The cache must be a file path: LiteRT given a folder logs errors and runs without a cache.
        val cache = File(context.cacheDir, "$model.xnnpack_cache")
        val cacheWasThere = cache.isFile && cache.length() > 0
        val fileBytes = context.assets.openFd(model).use { it.declaredLength }
        val options = CompiledModel.Options(*choice.accelerators)
        options.cpuOptions = CompiledModel.CpuOptions(xnnPackWeightCachePath = cache.absolutePath)

        val before = Rss.now()
        val t0 = System.nanoTime()
        val compiled = CompiledModel.create(context.assets, model, options)
        val initMs = (System.nanoTime() - t0) / 1e6
        compiled.use { cm ->
            val io = namedBuffers(cm, model)
            val inList = if (io == null) cm.createInputBuffers() else emptyList()
            val outList = if (io == null) cm.createOutputBuffers() else emptyList()
            fun once(): Double {
                val s = System.nanoTime()
                if (io != null) cm.run(io.first, io.second) else cm.run(inList, outList)
                return (System.nanoTime() - s) / 1e6
            }
            val firstMs = once()
            val ram = Rss.now() - before
            check(choice != AcceleratorChoice.CPU || (cache.isFile && cache.length() > 0)) {
                "the XNNPACK weight cache ${cache.name} was not written: LiteRT ran without it"
            }
            repeat(warmup) { once() }
            val latencies = List(runs) { once() }
            val note = if (io != null) "inputs: zeros, by name from $model.report.json"
            else "inputs: the buffers as created (copy $model.report.json into assets/ to feed zeros by name)"
            return BenchmarkResult(model, choice, cache, cacheWasThere, fileBytes, initMs, firstMs, latencies, ram, note)
        }
    }

    /**
     * Input buffers filled with zeros and output buffers, by name, from the export report that edgeshare writes
     * beside each file (`<model>.report.json`: input names, shapes and dtypes, output names); null without one.
     */
    private fun namedBuffers(cm: CompiledModel, model: String): Pair<Map<String, TensorBuffer>, Map<String, TensorBuffer>>? {
        val text = try {
            context.assets.open("$model.report.json").bufferedReader().use { it.readText() }
        } catch (e: java.io.IOException) {
            return null
        }
        val report = JSONObject(text)
        val inputs = HashMap<String, TensorBuffer>()
        val specs = report.getJSONArray("inputs")
        for (i in 0 until specs.length()) {
            val spec = specs.getJSONObject(i)
            val name = spec.getString("name")
            val shape = spec.getJSONArray("shape")
            var count = 1
            for (d in 0 until shape.length()) count *= maxOf(1, shape.optInt(d, 1))
            val buffer = cm.createInputBuffer(name)
            val bytes = cm.getInputBufferRequirements(name).bufferSize
            val dtype = spec.getString("dtype")
            when {
                dtype == "bool" -> buffer.writeBoolean(BooleanArray(count))
                bytes == count -> buffer.writeInt8(ByteArray(count)) // int8 I/O of a full-integer file
                dtype.startsWith("int") -> buffer.writeInt(IntArray(count))
                else -> buffer.writeFloat(FloatArray(count))
            }
            inputs[name] = buffer
        }
        val outputs = HashMap<String, TensorBuffer>()
        val names = report.getJSONArray("outputs")
        for (i in 0 until names.length()) outputs[names.getString(i)] = cm.createOutputBuffer(names.getString(i))
        return inputs to outputs
    }
}
