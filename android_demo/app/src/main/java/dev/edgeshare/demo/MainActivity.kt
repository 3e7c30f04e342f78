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

/** Pick a model from assets/, an accelerator (CPU, GPU, NPU) and a number of runs; shows load time, latency, RAM. */
class MainActivity : AppCompatActivity() {

    // One background thread: inference never runs on the UI thread, and runs never overlap.
    private val worker = Executors.newSingleThreadExecutor()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)

        val bench = ModelBenchmark(this)
        val modelSpinner = findViewById<Spinner>(R.id.model)
        val acceleratorGroup = findViewById<RadioGroup>(R.id.accelerator)
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
            val choice = when (acceleratorGroup.checkedRadioButtonId) {
                R.id.gpu -> AcceleratorChoice.GPU
                R.id.npu -> AcceleratorChoice.NPU
                else -> AcceleratorChoice.CPU
            }
            val runs = runsField.text.toString().toIntOrNull()?.coerceIn(1, 10_000) ?: 50
            runButton.isEnabled = false
            result.text = "running $model on ${choice.name} ($runs runs)..."
            worker.execute {
                val text = try {
                    bench.run(model, choice, runs).describe()
                } catch (e: Exception) {
                    // An accelerator that cannot take the model (no GPU driver, no NPU dispatch library) lands here.
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
