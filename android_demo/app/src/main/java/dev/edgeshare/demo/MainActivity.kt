package dev.edgeshare.demo

import android.os.Bundle
import android.widget.ArrayAdapter
import android.widget.Button
import android.widget.EditText
import android.widget.RadioGroup
import android.widget.Spinner
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import java.util.concurrent.Executors

/** Pick a model from assets/, a delegate (CPU, GPU, NNAPI) and a number of runs; shows the latencies. */
class MainActivity : AppCompatActivity() {

    // One background thread: inference never runs on the UI thread, and runs never overlap.
    private val worker = Executors.newSingleThreadExecutor()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)

        val bench = ModelBenchmark(assets)
        val modelSpinner = findViewById<Spinner>(R.id.model)
        val delegateGroup = findViewById<RadioGroup>(R.id.delegate)
        val runsField = findViewById<EditText>(R.id.runs)
        val runButton = findViewById<Button>(R.id.run)
        val result = findViewById<TextView>(R.id.result)

        val models = bench.models()
        modelSpinner.adapter = ArrayAdapter(this, android.R.layout.simple_spinner_dropdown_item, models)
        if (models.isEmpty()) {
            result.setText(R.string.no_models)
            runButton.isEnabled = false
        }

        runButton.setOnClickListener {
            val model = modelSpinner.selectedItem as? String ?: return@setOnClickListener
            val choice = when (delegateGroup.checkedRadioButtonId) {
                R.id.gpu -> DelegateChoice.GPU
                R.id.nnapi -> DelegateChoice.NNAPI
                else -> DelegateChoice.CPU
            }
            val runs = runsField.text.toString().toIntOrNull()?.coerceIn(1, 10_000) ?: 50
            runButton.isEnabled = false
            result.text = "running $model on ${choice.name} ($runs runs)..."
            worker.execute {
                val text = try {
                    bench.run(model, choice, runs).describe()
                } catch (e: Exception) {
                    // A delegate that cannot take the model (unsupported op, no GPU driver) lands here.
                    "$model on ${choice.name} failed: ${e.message}"
                }
                runOnUiThread {
                    result.text = text
                    runButton.isEnabled = true
                }
            }
        }
    }

    override fun onDestroy() {
        worker.shutdownNow()
        super.onDestroy()
    }
}
