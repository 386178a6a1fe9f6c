// Spawns processes that outlive it (sleep, named with the marker) until the slot's process limit
// stops it; the time limit ends the run and everything it started goes with it.
public class Main {
    public static void main(String[] a) {
        for (;;)
            try {
                new ProcessBuilder("sleep", "600", a[0]).start();
            } catch (Exception e) {
                /* at the process limit: try again */
            }
    }
}
