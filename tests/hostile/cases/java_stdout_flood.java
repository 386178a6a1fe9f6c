public class Main {
    public static void main(String[] a) {
        String s = "x".repeat(8191);
        for (;;) System.out.print(s);
    }
}
